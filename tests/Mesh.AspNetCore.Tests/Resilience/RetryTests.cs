using Grpc.Core;
using Mesh.AspNetCore.Tests.Infrastructure;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>Outbound retry with exponential backoff, on real Kestrel calls, with the backoff driven by a fake clock.</summary>
public sealed class RetryTests
{
    private static readonly EchoRequest Hello = new() { Text = "hello" };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Call_DefaultRetry_AttemptsAtZeroThenOneTwoFourSecondsLater()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var start = time.GetUtcNow();

        var call = client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync;

        await script.WaitForCallsAsync(1);
        foreach (var (delay, attempt) in new[] { (1000, 2), (2000, 3), (4000, 4) })
        {
            var timer = await time.NextTimerAsync();
            Assert.Equal(TimeSpan.FromMilliseconds(delay), timer.DueTime);
            time.Advance(TimeSpan.FromMilliseconds(delay - 1));
            Assert.False(timer.Fired, $"attempt {attempt} must not start before {delay} ms");
            Assert.Equal(attempt - 1, script.Calls);
            time.Advance(TimeSpan.FromMilliseconds(1));
            Assert.True(timer.Fired);
            await script.WaitForCallsAsync(attempt);
        }

        var error = await Assert.ThrowsAsync<RpcException>(() => call);
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal(4, script.Calls);
        Assert.Equal([0, 1000, 3000, 7000], script.CallTimes.Select(t => (t - start).TotalMilliseconds));
        Assert.False(time.HasPendingTimer);
    }

    [Fact]
    public async Task Call_MaxDelay_CapsEachDelay()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "Retry": { "MaxAttempts": 5, "InitialDelay": 1000, "MaxDelay": 3000 }, "CircuitBreaker": { "Enabled": false } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);

        var call = client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        var delays = await time.DriveAsync(call);

        Assert.Equal([1000, 2000, 3000, 3000, 3000], delays.Select(d => d.TotalMilliseconds));
        Assert.Equal(6, script.Calls);
    }

    // The spec's retry use cases: Network Transient Failures (5/500), Database Deadlock Recovery (3/100),
    // Rate Limit Backoff (4/2000).
    [Theory]
    [InlineData(5, 500, new[] { 500, 1000, 2000, 4000, 8000 })]
    [InlineData(3, 100, new[] { 100, 200, 400 })]
    [InlineData(4, 2000, new[] { 2000, 4000, 8000, 16000 })]
    public async Task Call_SpecRetryUseCase_FollowsTheBackoffSchedule(int maxAttempts, int initialDelay, int[] expectedDelays)
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = $$"""{ "retry": { "maxAttempts": {{maxAttempts}}, "initialDelay": {{initialDelay}} }, "CircuitBreaker": { "Enabled": false } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);

        var call = client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        var delays = await time.DriveAsync(call);

        Assert.Equal(expectedDelays.Select(d => (double)d), delays.Select(d => d.TotalMilliseconds));
        Assert.Equal(maxAttempts + 1, script.Calls);
        Assert.Equal(StatusCode.Unavailable, (await Assert.ThrowsAsync<RpcException>(() => call)).StatusCode);
    }

    [Fact]
    public async Task Call_TransientFailuresThenSuccess_ReturnsTheResponse()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailFirst(3, StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "Retry": { "MaxAttempts": 5, "InitialDelay": 500 } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);

        var call = client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        var delays = await time.DriveAsync(call);

        Assert.Equal("hello", (await call).Text);
        Assert.Equal([500, 1000, 2000], delays.Select(d => d.TotalMilliseconds));
        Assert.Equal(4, script.Calls);
    }

    [Fact]
    public async Task Call_StatusInTrailersOnlyResponse_IsRetriedAndCounted()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "CircuitBreaker": { "FailureThreshold": 4 } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var inventory = client.Get<IMeshClient<InventoryClient>>();

        var call = inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        var delays = await time.DriveAsync(call);

        Assert.Equal(StatusCode.Unavailable, (await Assert.ThrowsAsync<RpcException>(() => call)).StatusCode);
        Assert.Equal(3, delays.Count);
        Assert.Equal(4, script.Calls);
        Assert.Equal(CircuitState.Open, inventory.CircuitState);
    }

    [Fact]
    public async Task Call_StatusInTrailersAfterResponseHeaders_IsRetriedAndCounted()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time)
        {
            Say = async (_, context) =>
            {
                await context.WriteResponseHeadersAsync([new("x-sent", "headers-first")]);
                throw new RpcException(new Status(StatusCode.Unavailable, "failed after headers"));
            },
        };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "CircuitBreaker": { "FailureThreshold": 4 } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var inventory = client.Get<IMeshClient<InventoryClient>>();

        using var call = inventory.Client.SayAsync(Hello, cancellationToken: Ct);
        var delays = await time.DriveAsync(call.ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, (await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync)).StatusCode);
        Assert.Equal("headers-first", (await call.ResponseHeadersAsync).GetValue("x-sent"));
        Assert.Equal(StatusCode.Unavailable, call.GetStatus().StatusCode);
        Assert.Equal(3, delays.Count);
        Assert.Equal(4, script.Calls);
        Assert.Equal(CircuitState.Open, inventory.CircuitState);
    }

    [Fact]
    public async Task Call_ServerStreamFailingAfterHeaders_IsRetriedUntilTheFirstMessage()
    {
        var time = new TrackingTimeProvider();
        var attempts = 0;
        var script = new EchoScript(time)
        {
            ServerStream = async (r, writer, context) =>
            {
                if (Interlocked.Increment(ref attempts) <= 2)
                {
                    await context.WriteResponseHeadersAsync([]);
                    throw new RpcException(new Status(StatusCode.Unavailable, "failed before the first message"));
                }

                await writer.WriteAsync(new EchoReply { Text = "first" });
                throw new RpcException(new Status(StatusCode.Unavailable, "failed after the first message"));
            },
        };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port), m => m.AddClient<InventoryClient>("inventory-service"), time);

        using var call = client.Get<InventoryClient>().ServerStream(Hello, cancellationToken: Ct);
        var first = call.ResponseStream.MoveNext(TestContext.Current.CancellationToken);
        var delays = await time.DriveAsync(first);

        Assert.True(await first);
        Assert.Equal("first", call.ResponseStream.Current.Text);
        Assert.Equal([1000, 2000], delays.Select(d => d.TotalMilliseconds));
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(TestContext.Current.CancellationToken));
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.False(time.HasPendingTimer);
        Assert.Equal(3, script.Calls);
    }

    [Fact]
    public async Task Call_ConnectionRefused_IsRetriedAndCounted()
    {
        var time = new TrackingTimeProvider();
        using var refused = new RefusedPort();
        var resilience = """{ "CircuitBreaker": { "FailureThreshold": 4 } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(refused.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var inventory = client.Get<IMeshClient<InventoryClient>>();

        var call = inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        var delays = await time.DriveAsync(call);

        Assert.Equal(StatusCode.Unavailable, (await Assert.ThrowsAsync<RpcException>(() => call)).StatusCode);
        Assert.Equal([1000, 2000, 4000], delays.Select(d => d.TotalMilliseconds));
        Assert.Equal(CircuitState.Open, inventory.CircuitState);
    }

    [Fact]
    public async Task StandardResilienceHandler_StatusInTrailersOnlyResponse_IsNotRetried()
    {
        // For contrast: the HTTP-level handler sees HTTP 200 with grpc-status in the trailers and does nothing.
        var script = new EchoScript { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        var services = new ServiceCollection();
        services.AddGrpcClient<Echo.EchoClient>(o => o.Address = server.Address).AddStandardResilienceHandler();
        await using var provider = services.BuildServiceProvider();

        var error = await Assert.ThrowsAsync<RpcException>(() => provider.GetRequiredService<Echo.EchoClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal(1, script.Calls);
    }

    [Fact]
    public async Task Call_NonRetryableStatus_IsNotRetried()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.InvalidArgument) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port), m => m.AddClient<InventoryClient>("inventory-service"), time);

        var error = await Assert.ThrowsAsync<RpcException>(() => client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal(1, script.Calls);
        Assert.False(time.HasPendingTimer);
    }

    [Fact]
    public async Task Call_ConfiguredRetryableStatus_IsRetried()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailFirst(1, StatusCode.Internal) };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "Retry": { "RetryableStatusCodes": [ "Internal" ] } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);

        var call = client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        await time.DriveAsync(call);

        Assert.Equal("hello", (await call).Text);
        Assert.Equal(2, script.Calls);
    }

    [Theory]
    [InlineData("""{ "Retry": { "MaxAttempts": 0 } }""")]
    [InlineData("""{ "Retry": { "Enabled": false } }""")]
    public async Task Call_RetryOff_MakesOneAttempt(string resilience)
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);

        await Assert.ThrowsAsync<RpcException>(() => client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(1, script.Calls);
        Assert.False(time.HasPendingTimer);
    }

    [Theory]
    [InlineData("grpc-retry-pushback-ms", "5000", 5000)]
    [InlineData("retry-after", "3", 3000)]
    [InlineData("grpc-retry-pushback-ms", "200", 1000)]
    public async Task Call_ServerPushback_WaitsAtLeastThatLong(string trailer, string value, int expectedDelayMs)
    {
        var time = new TrackingTimeProvider();
        var failures = 0;
        var script = new EchoScript(time)
        {
            Say = (r, _) => Interlocked.Increment(ref failures) == 1
                ? throw new RpcException(new Status(StatusCode.ResourceExhausted, "Rate limit exceeded"), new Metadata { { trailer, value } })
                : Task.FromResult(new EchoReply { Text = r.Text }),
        };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port), m => m.AddClient<InventoryClient>("inventory-service"), time);

        var call = client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        var delays = await time.DriveAsync(call);

        Assert.Equal("hello", (await call).Text);
        Assert.Equal([(double)expectedDelayMs], delays.Select(d => d.TotalMilliseconds));
    }

    [Fact]
    public async Task Call_NegativePushback_IsNotRetried()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable, new Metadata { { "grpc-retry-pushback-ms", "-1" } }) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port), m => m.AddClient<InventoryClient>("inventory-service"), time);

        var error = await Assert.ThrowsAsync<RpcException>(() => client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal(1, script.Calls);
        Assert.False(time.HasPendingTimer);
    }

    [Fact]
    public async Task Call_RetryWouldEndAfterDeadline_IsNotAttempted()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "Retry": { "MaxAttempts": 3, "InitialDelay": 4000 } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var deadline = time.GetUtcNow().UtcDateTime.AddSeconds(10);

        // Attempts at 0 s and 4 s fit; the next would start at 12 s, after the deadline.
        var call = client.Get<InventoryClient>().SayAsync(Hello, deadline: deadline, cancellationToken: Ct).ResponseAsync;
        var delays = await time.DriveAsync(call);

        Assert.Equal(StatusCode.Unavailable, (await Assert.ThrowsAsync<RpcException>(() => call)).StatusCode);
        Assert.Equal([4000], delays.Select(d => d.TotalMilliseconds));
        Assert.Equal(2, script.Calls);
    }

    [Fact]
    public async Task Call_CancelledDuringBackoff_EndsAtOnce()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port), m => m.AddClient<InventoryClient>("inventory-service"), time);
        using var cancellation = new CancellationTokenSource();

        var call = client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: cancellation.Token).ResponseAsync;
        var timer = await time.NextTimerAsync();
        await cancellation.CancelAsync();

        var error = await Assert.ThrowsAsync<RpcException>(() => call.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        Assert.False(timer.Fired);
        Assert.Equal(1, script.Calls);
    }

    [Fact]
    public async Task Call_ClientStreaming_IsNotRetried()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { ClientStream = (_, _) => throw new RpcException(new Status(StatusCode.Unavailable, "down")) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port), m => m.AddClient<InventoryClient>("inventory-service"), time);

        using var call = client.Get<InventoryClient>().ClientStream(cancellationToken: TestContext.Current.CancellationToken);
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal(1, script.Calls);
        Assert.False(time.HasPendingTimer);
    }

    [Fact]
    public async Task Call_Duplex_WorksAndIsNotRetried()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time);
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port), m => m.AddClient<InventoryClient>("inventory-service"), time);

        using var call = client.Get<InventoryClient>().Duplex(cancellationToken: Ct);
        var guard = TimeSpan.FromSeconds(10);
        await call.RequestStream.WriteAsync(new EchoRequest { Text = "a" }, Ct).WaitAsync(guard, Ct);
        Assert.True(await call.ResponseStream.MoveNext(Ct).WaitAsync(guard, Ct));
        Assert.Equal("a", call.ResponseStream.Current.Text);
        await call.RequestStream.CompleteAsync().WaitAsync(guard, Ct);
        Assert.False(await call.ResponseStream.MoveNext(Ct).WaitAsync(guard, Ct));

        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal(1, script.Calls);
    }

    [Fact]
    public async Task BlockingCall_TransientFailure_IsRetried()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailFirst(1, StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var inventory = client.Get<InventoryClient>();

        var call = Task.Run(() => inventory.Say(Hello, cancellationToken: Ct), Ct);
        var delays = await time.DriveAsync(call);

        Assert.Equal("hello", (await call).Text);
        Assert.Equal([1000], delays.Select(d => d.TotalMilliseconds));
        Assert.Equal(["order-service", "order-service"], script.Callers);
    }

    [Fact]
    public async Task Call_UseJitter_RandomisesDelaysWithinMaxDelay()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "Retry": { "MaxAttempts": 6, "InitialDelay": 1000, "MaxDelay": 3000, "UseJitter": true }, "CircuitBreaker": { "Enabled": false } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);

        var call = client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        var delays = (await time.DriveAsync(call)).Select(d => d.TotalMilliseconds).ToList();

        // Each delay is between half and all of the unjittered one (1, 2, 3, 3, 3, 3 s), never longer.
        double[] curve = [1000, 2000, 3000, 3000, 3000, 3000];
        Assert.Equal(6, delays.Count);
        Assert.All(delays.Zip(curve), d => Assert.InRange(d.First, d.Second / 2, d.Second));
        Assert.NotEqual(curve, delays);
        Assert.Equal(7, script.Calls);
    }
}
