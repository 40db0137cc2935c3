using Grpc.Core;
using Mesh.AspNetCore.Telemetry.Internal;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>The per-service circuit breaker on real Kestrel calls, its timeouts driven by a fake clock.</summary>
public sealed class CircuitBreakerTests
{
    private static readonly EchoRequest Hello = new() { Text = "hello" };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<StatusCode> StatusOf(Task call)
    {
        try
        {
            await call.WaitAsync(TimeSpan.FromSeconds(30), Ct);
            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }

    [Fact]
    public async Task Breaker_DatabaseConnectionProtection_ClosedOpenHalfOpenClosed()
    {
        // Spec "Database Connection Protection": failureThreshold 3, successThreshold 2, timeout 30000.
        var time = new TrackingTimeProvider();
        var healthy = false;
        var script = new EchoScript(time)
        {
            Say = (r, _) => Volatile.Read(ref healthy)
                ? Task.FromResult(new EchoReply { Text = r.Text })
                : throw new RpcException(new Status(StatusCode.Unavailable, "database down")),
        };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "circuitBreaker": { "failureThreshold": 3, "successThreshold": 2, "timeout": 30000 }, "Retry": { "Enabled": false } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var inventory = client.Get<IMeshClient<InventoryClient>>();

        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(StatusCode.Unavailable, await StatusOf(inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync));
        }

        Assert.Equal(CircuitState.Closed, inventory.CircuitState);
        Assert.Equal(StatusCode.Unavailable, await StatusOf(inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync));
        Assert.Equal(CircuitState.Open, inventory.CircuitState);
        var opened = Assert.Single(client.Logs.Entries, e => e.EventId.Id == 3001);
        Assert.Equal(LogLevel.Warning, opened.Level);
        Assert.Contains("inventory-service", opened.Message, StringComparison.Ordinal);
        Assert.Contains("Unavailable", opened.Message, StringComparison.Ordinal);

        // Open: rejected at once, without reaching the service, naming the service and the time left.
        time.Advance(TimeSpan.FromMilliseconds(20_000));
        var rejected = await Assert.ThrowsAsync<RpcException>(() => inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, rejected.StatusCode);
        Assert.Contains("'inventory-service'", rejected.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("10.0 s", rejected.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(3, script.Calls);

        time.Advance(TimeSpan.FromMilliseconds(9_999));
        Assert.Equal(CircuitState.Open, inventory.CircuitState);
        await Assert.ThrowsAsync<RpcException>(() => inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        Assert.Equal(3, script.Calls);

        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(CircuitState.HalfOpen, inventory.CircuitState);

        Volatile.Write(ref healthy, true);
        Assert.Equal("hello", (await inventory.Client.SayAsync(Hello, cancellationToken: Ct)).Text);
        Assert.Equal(CircuitState.HalfOpen, inventory.CircuitState);
        Assert.Contains(client.Logs.Entries, e => e.EventId.Id == 3002 && e.Level == LogLevel.Information);
        Assert.Equal("hello", (await inventory.Client.SayAsync(Hello, cancellationToken: Ct)).Text);
        Assert.Equal(CircuitState.Closed, inventory.CircuitState);
        Assert.Contains(client.Logs.Entries, e => e.EventId.Id == 3003 && e.Level == LogLevel.Information);
        Assert.Equal(5, script.Calls);
    }

    [Fact]
    public async Task Breaker_TrialCallFails_OpensForAnotherTimeout()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Internal) };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "CircuitBreaker": { "FailureThreshold": 2, "SuccessThreshold": 2, "Timeout": 5000 } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var inventory = client.Get<IMeshClient<InventoryClient>>();

        await StatusOf(inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        await StatusOf(inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        Assert.Equal(CircuitState.Open, inventory.CircuitState);

        time.Advance(TimeSpan.FromMilliseconds(5000));
        Assert.Equal(CircuitState.HalfOpen, inventory.CircuitState);
        Assert.Equal(StatusCode.Internal, await StatusOf(inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync));

        Assert.Equal(CircuitState.Open, inventory.CircuitState);
        var reopened = Assert.Single(client.Logs.Entries, e => e.EventId.Id == 3004);
        Assert.Equal(LogLevel.Warning, reopened.Level);
        Assert.Equal(3, script.Calls);
        time.Advance(TimeSpan.FromMilliseconds(4999));
        var rejected = await Assert.ThrowsAsync<RpcException>(() => inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        Assert.Contains("0.1 s", rejected.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(3, script.Calls);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(CircuitState.HalfOpen, inventory.CircuitState);
    }

    [Fact]
    public async Task Breaker_ExternalApiIntegration_NeedsThreeSuccessesToClose()
    {
        // Spec "External API Integration": failureThreshold 5, successThreshold 3, timeout 120000.
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailFirst(5, StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "circuitBreaker": { "failureThreshold": 5, "successThreshold": 3, "timeout": 120000 }, "Retry": { "Enabled": false } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<PaymentClient>("inventory-service"), time);
        var gateway = client.Get<IMeshClient<PaymentClient>>();

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(CircuitState.Closed, gateway.CircuitState);
            await StatusOf(gateway.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        }

        Assert.Equal(CircuitState.Open, gateway.CircuitState);
        time.Advance(TimeSpan.FromMilliseconds(119_999));
        Assert.Equal(CircuitState.Open, gateway.CircuitState);
        time.Advance(TimeSpan.FromMilliseconds(1));
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(StatusCode.OK, await StatusOf(gateway.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync));
            Assert.Equal(CircuitState.HalfOpen, gateway.CircuitState);
        }

        Assert.Equal(StatusCode.OK, await StatusOf(gateway.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync));
        Assert.Equal(CircuitState.Closed, gateway.CircuitState);
    }

    [Fact]
    public async Task Breaker_HalfOpenUnder64ConcurrentCalls_AdmitsAtMostSuccessThreshold()
    {
        var time = new TrackingTimeProvider();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var failing = true;
        var script = new EchoScript(time)
        {
            Say = async (r, _) =>
            {
                if (Volatile.Read(ref failing))
                {
                    throw new RpcException(new Status(StatusCode.Unavailable, "down"));
                }

                await gate.Task;
                return new EchoReply { Text = r.Text };
            },
        };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "CircuitBreaker": { "FailureThreshold": 1, "SuccessThreshold": 2, "Timeout": 1000 }, "Retry": { "Enabled": false } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var inventory = client.Get<IMeshClient<InventoryClient>>();
        await StatusOf(inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        Assert.Equal(CircuitState.Open, inventory.CircuitState);
        Volatile.Write(ref failing, false);
        time.Advance(TimeSpan.FromMilliseconds(1000));

        var calls = Enumerable.Range(0, 64).Select(_ => Task.Run(() => inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync, Ct)).ToList();
        await script.WaitForCallsAsync(3);
        while (calls.Count(c => c.IsCompleted) < 62)
        {
            await Task.WhenAny(calls.Where(c => !c.IsCompleted)).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        }

        Assert.Equal(3, script.Calls); // the call that opened the breaker, then two trial calls
        gate.SetResult();
        var statuses = await Task.WhenAll(calls.Select(StatusOf));
        Assert.Equal(2, statuses.Count(s => s == StatusCode.OK));
        Assert.Equal(62, statuses.Count(s => s == StatusCode.Unavailable));
        Assert.Equal(3, script.Calls);
        Assert.Equal(CircuitState.Closed, inventory.CircuitState);
    }

    [Fact]
    public async Task Breaker_OpenCircuitRejection_EndsTheRetries()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "CircuitBreaker": { "FailureThreshold": 2 } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);

        var call = client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        var delays = await time.DriveAsync(call);

        // Attempt 2 opens the breaker; attempt 3 is rejected at once (no backoff: the open breaker would reject it
        // anyway) without traffic, and no fourth attempt is scheduled.
        Assert.Equal([1000], delays.Select(d => d.TotalMilliseconds));
        Assert.Equal(2, script.Calls);
        var error = await Assert.ThrowsAsync<RpcException>(() => call);
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("circuit breaker of service 'inventory-service' is open", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Breaker_CallerErrors_DoNotCountAndResetTheFailureCount()
    {
        var time = new TrackingTimeProvider();
        var next = StatusCode.InvalidArgument;
        var script = new EchoScript(time) { Say = (_, _) => throw new RpcException(new Status(next, "scripted")) };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "CircuitBreaker": { "FailureThreshold": 2 }, "Retry": { "Enabled": false } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var inventory = client.Get<IMeshClient<InventoryClient>>();

        foreach (var status in new[] { StatusCode.InvalidArgument, StatusCode.NotFound, StatusCode.PermissionDenied, StatusCode.Internal, StatusCode.NotFound, StatusCode.Internal })
        {
            next = status;
            Assert.Equal(status, await StatusOf(inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync));
        }

        Assert.Equal(CircuitState.Closed, inventory.CircuitState);
        next = StatusCode.Internal;
        await StatusOf(inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        Assert.Equal(CircuitState.Open, inventory.CircuitState);
    }

    [Fact]
    public async Task Breaker_CallerCancellation_DoesNotCount()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = async (_, context) => { await Task.Delay(Timeout.Infinite, context.CancellationToken); return new EchoReply(); } };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "CircuitBreaker": { "FailureThreshold": 1 } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var inventory = client.Get<IMeshClient<InventoryClient>>();
        using var cancellation = new CancellationTokenSource();

        var call = inventory.Client.SayAsync(Hello, cancellationToken: cancellation.Token).ResponseAsync;
        await script.WaitForCallsAsync(1);
        await cancellation.CancelAsync();

        Assert.Equal(StatusCode.Cancelled, await StatusOf(call));
        Assert.Equal(CircuitState.Closed, inventory.CircuitState);
    }

    [Fact]
    public async Task Breaker_MicroserviceDependencies_OnlyTheFailingServiceOpens()
    {
        // Spec "Microservice Dependencies": order-service calls inventory-service and payment-service, each with its own breaker.
        var time = new TrackingTimeProvider();
        var inventoryScript = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        var paymentScript = new EchoScript(time);
        await using var inventoryServer = await EchoServer.StartAsync(inventoryScript);
        await using var paymentServer = await EchoServer.StartAsync(paymentScript);
        var resilience = """{ "circuitBreaker": { "failureThreshold": 5, "successThreshold": 2, "timeout": 60000 } }""";
        await using var client = await MeshClientHost.StartAsync(
            MeshConfig.For(inventoryServer.Port, resilience, paymentServer.Port),
            m => m.AddClient<InventoryClient>("inventory-service").AddClient<PaymentClient>("payment-service"),
            time);
        var inventory = client.Get<IMeshClient<InventoryClient>>();
        var payment = client.Get<IMeshClient<PaymentClient>>();

        // Two logical calls with retries: five failed attempts open inventory's breaker.
        for (var i = 0; i < 2; i++)
        {
            var call = inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
            await time.DriveAsync(call);
            Assert.Equal(StatusCode.Unavailable, await StatusOf(call));
        }

        Assert.Equal(CircuitState.Open, inventory.CircuitState);
        Assert.Equal(5, inventoryScript.Calls);
        Assert.Equal(CircuitState.Closed, payment.CircuitState);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("hello", (await payment.Client.SayAsync(Hello, cancellationToken: Ct)).Text);
        }

        await Assert.ThrowsAsync<RpcException>(() => inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        Assert.Equal(5, inventoryScript.Calls);
        Assert.Equal(3, paymentScript.Calls);
        var states = client.Get<ICircuitStateReader>().GetCircuitStates().ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(CircuitState.Open, states["inventory-service"]);
        Assert.Equal(CircuitState.Closed, states["payment-service"]);
    }

    [Fact]
    public async Task Breaker_Disabled_NeverOpens()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "CircuitBreaker": { "Enabled": false, "FailureThreshold": 1 }, "Retry": { "Enabled": false } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var inventory = client.Get<IMeshClient<InventoryClient>>();

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(StatusCode.Unavailable, await StatusOf(inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync));
        }

        Assert.Equal(3, script.Calls);
        Assert.Equal(CircuitState.Closed, inventory.CircuitState);
    }

    [Fact]
    public async Task Breaker_OpenForStreamingCalls_RejectsWithoutTraffic()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "CircuitBreaker": { "FailureThreshold": 1 }, "Retry": { "Enabled": false } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var inventory = client.Get<InventoryClient>();
        await StatusOf(inventory.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);

        using var serverStream = inventory.ServerStream(Hello, cancellationToken: Ct);
        Assert.Equal(StatusCode.Unavailable, (await Assert.ThrowsAsync<RpcException>(() => serverStream.ResponseStream.MoveNext(Ct))).StatusCode);
        using var clientStream = inventory.ClientStream(cancellationToken: Ct);
        Assert.Equal(StatusCode.Unavailable, (await Assert.ThrowsAsync<RpcException>(() => clientStream.RequestStream.WriteAsync(Hello, Ct))).StatusCode);
        Assert.Equal(StatusCode.Unavailable, (await Assert.ThrowsAsync<RpcException>(() => clientStream.ResponseAsync)).StatusCode);
        using var duplex = inventory.Duplex(cancellationToken: Ct);
        Assert.Equal(StatusCode.Unavailable, (await Assert.ThrowsAsync<RpcException>(() => duplex.ResponseStream.MoveNext(Ct))).StatusCode);
        Assert.Equal(StatusCode.Unavailable, duplex.GetStatus().StatusCode);

        Assert.Equal(1, script.Calls);
    }
}
