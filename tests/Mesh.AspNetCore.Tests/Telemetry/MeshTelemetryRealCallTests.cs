using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using Grpc.Core;
using Mesh.AspNetCore.Discovery.Internal;
using Mesh.AspNetCore.RateLimiting.Internal;
using Mesh.AspNetCore.Telemetry.Internal;
using Mesh.AspNetCore.Tests.Discovery;
using Mesh.AspNetCore.Tests.Infrastructure;
using Mesh.AspNetCore.Tests.Protos;
using Mesh.AspNetCore.Tests.RateLimiting;
using Mesh.AspNetCore.Tests.RateLimiting.SharedStore;
using Mesh.AspNetCore.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.Telemetry;

/// <summary>
/// Every instrument of the <c>Mesh.AspNetCore</c> meter and every figure of <see cref="ISecureMesh.GetStats"/>, after
/// real gRPC and HTTP requests over Kestrel through real mesh clients, breakers, endpoints and limiters (the unit tests
/// beside these feed <c>MeshMetrics</c> by hand). Durations come from the client's fake clock, so they are exact.
/// </summary>
public sealed class MeshTelemetryRealCallTests
{
    private const string Inventory = "inventory-service";
    private const string Payment = "payment-service";
    private const string Shipping = "shipping-service";
    private const string Say = "/mesh.tests.Echo/Say";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The instruments the tests of this class (and <c>ThrottledRetryTests</c>, for the budget) check after real calls.</summary>
    private static readonly string[] s_coveredInstruments =
    [
        MeshMetrics.ClientCallsName, MeshMetrics.ClientRetriesName, MeshMetrics.ClientCallDurationName,
        MeshMetrics.ClientRetriesThrottledName, MeshMetrics.CircuitBreakerStateName, MeshMetrics.CircuitBreakerTransitionsName,
        MeshMetrics.RateLimitDecisionsName, RateLimitStoreMetrics.StoreFailuresName, EndpointMetrics.TransitionsName,
        EndpointMetrics.EjectedName,
    ];

    [Fact]
    public void Meter_EveryInstrumentTheMeshCreates_IsOneThatARealCallTestChecks()
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new Microsoft.Extensions.Hosting.HostApplicationBuilderSettings());
        builder.Configuration["Mesh:ServiceId"] = "order-service";
        builder.Configuration["Mesh:Discovery:Services:0:Id"] = Inventory;
        builder.Configuration["Mesh:Discovery:Services:0:Host"] = "127.0.0.1";
        builder.Configuration["Mesh:Discovery:Services:0:Port"] = "50054";
        builder.Services.AddSecureMesh().AddClient<InventoryClient>(Inventory);
        var services = builder.Services;
        using var host = builder.Build();
        var provider = host.Services;
        var factory = provider.GetRequiredService<IMeterFactory>();
        var published = new List<string>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Scope == factory && instrument.Meter.Name == MeshMetrics.MeterName)
                {
                    lock (published)
                    {
                        published.Add(instrument.Name);
                    }
                }
            },
        };
        listener.Start();

        // Every singleton of the library, as a running application would have them.
        foreach (var descriptor in services.Where(d => d.Lifetime == ServiceLifetime.Singleton && !d.ServiceType.IsGenericTypeDefinition
            && d.ServiceType.Assembly == typeof(ISecureMesh).Assembly))
        {
            _ = provider.GetServices(descriptor.ServiceType).ToList();
        }

        Assert.Equal(s_coveredInstruments.Order(StringComparer.Ordinal), published.Distinct().Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task GetStats_RealCallsWithRetriesAndErrors_EveryFigureOfEveryServiceAndTheInstruments()
    {
        var time = new TrackingTimeProvider();
        // Attempts 1, 3 and 4 fail: the first call takes one retry (400 ms), the second two (400 + 800 ms), the third none.
        var inventoryScript = new EchoScript(time);
        var inventoryAttempts = 0;
        inventoryScript.Say = (request, _) => Interlocked.Increment(ref inventoryAttempts) is 1 or 3 or 4
            ? throw new RpcException(new Status(StatusCode.Unavailable, "scripted Unavailable"))
            : Task.FromResult(new EchoReply { Text = request.Text });
        // The second payment call is the caller's error: not retried, not a failure of the service.
        var paymentScript = new EchoScript(time);
        var paymentAttempts = 0;
        paymentScript.Say = (request, _) => Interlocked.Increment(ref paymentAttempts) == 2
            ? throw new RpcException(new Status(StatusCode.InvalidArgument, "scripted InvalidArgument"))
            : Task.FromResult(new EchoReply { Text = request.Text });
        await using var inventoryServer = await EchoServer.StartAsync(inventoryScript);
        await using var paymentServer = await EchoServer.StartAsync(paymentScript);
        await using var shippingServer = await EchoServer.StartAsync(new EchoScript(time));
        await using var client = await MeshClientHost.StartAsync(
            $$"""
            { "Mesh": { "ServiceId": "order-service",
              "Resilience": { "Retry": { "MaxAttempts": 2, "InitialDelay": 400 } },
              "Discovery": { "Services": [
                { "Id": "{{Inventory}}", "Host": "127.0.0.1", "Port": {{inventoryServer.Port}} },
                { "Id": "{{Payment}}", "Host": "127.0.0.1", "Port": {{paymentServer.Port}} },
                { "Id": "{{Shipping}}", "Host": "127.0.0.1", "Port": {{shippingServer.Port}} } ] } } }
            """,
            m => m.AddClient<InventoryClient>(Inventory).AddClient<PaymentClient>(Payment).AddClient<ShippingClient>(Shipping),
            time);
        var meterFactory = client.Get<IMeterFactory>();
        using var calls = new MetricCollector<long>(meterFactory, MeshMetrics.MeterName, MeshMetrics.ClientCallsName);
        using var retries = new MetricCollector<long>(meterFactory, MeshMetrics.MeterName, MeshMetrics.ClientRetriesName);
        using var durations = new MetricCollector<double>(meterFactory, MeshMetrics.MeterName, MeshMetrics.ClientCallDurationName);
        var inventory = client.Get<InventoryClient>();
        var payment = client.Get<PaymentClient>();

        for (var i = 0; i < 3; i++)
        {
            var call = inventory.SayAsync(new EchoRequest { Text = "reserve" }, cancellationToken: Ct).ResponseAsync;
            await time.DriveAsync(call);
            await call;
        }

        await payment.SayAsync(new EchoRequest { Text = "charge" }, cancellationToken: Ct);
        var refused = await Assert.ThrowsAsync<RpcException>(() => payment.SayAsync(new EchoRequest { Text = "charge" }, cancellationToken: Ct).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);

        var stats = client.Get<ISecureMesh>().GetStats();

        Assert.Equal("order-service", stats.Service);
        Assert.Equal([Inventory, Payment, Shipping], stats.ConnectedServices);
        Assert.Equal([Inventory, Payment, Shipping], stats.Services.Keys.Order(StringComparer.Ordinal));

        var total = stats.Metrics;
        Assert.Equal((5L, 1L, 3L, 0L, CircuitState.Closed), (total.MessagesSent, total.MessagesFailed, total.Retries, total.RetriesThrottled, total.CircuitBreakerState));
        Assert.Equal((0L, 0L), (total.RateLimitAllowed, total.RateLimitBlocked)); // this service has no inbound limit
        Assert.Equal(320.0, total.AverageLatencyMs); // (400 + 1200 + 0 + 0 + 0) / 5
        Assert.Equal(0.0, total.P50LatencyMs);
        Assert.InRange(total.P99LatencyMs, 1200 * 0.98, 1200.0); // within the documented 2%
        Assert.Null(total.Endpoints);

        var inventoryStats = stats.Services[Inventory];
        Assert.Equal((3L, 0L, 3L, 0L, CircuitState.Closed), (inventoryStats.MessagesSent, inventoryStats.MessagesFailed, inventoryStats.Retries, inventoryStats.RetriesThrottled, inventoryStats.CircuitBreakerState));
        Assert.Equal((0L, 0L), (inventoryStats.RateLimitAllowed, inventoryStats.RateLimitBlocked));
        Assert.Equal(533.333, inventoryStats.AverageLatencyMs);
        Assert.InRange(inventoryStats.P50LatencyMs, 400 * 0.98, 400 * 1.02);
        Assert.InRange(inventoryStats.P99LatencyMs, 1200 * 0.98, 1200.0);
        var inventoryEndpoint = Assert.Single(inventoryStats.Endpoints!);
        Assert.Equal((Address(inventoryServer), "ready", 6L, 3L), (inventoryEndpoint.Address, inventoryEndpoint.State, inventoryEndpoint.Calls, inventoryEndpoint.Failures));

        var paymentStats = stats.Services[Payment];
        Assert.Equal((2L, 1L, 0L, 0L, CircuitState.Closed), (paymentStats.MessagesSent, paymentStats.MessagesFailed, paymentStats.Retries, paymentStats.RetriesThrottled, paymentStats.CircuitBreakerState));
        Assert.Equal((0.0, 0.0, 0.0), (paymentStats.AverageLatencyMs, paymentStats.P50LatencyMs, paymentStats.P99LatencyMs));
        var paymentEndpoint = Assert.Single(paymentStats.Endpoints!);
        Assert.Equal((Address(paymentServer), "ready", 2L, 0L), (paymentEndpoint.Address, paymentEndpoint.State, paymentEndpoint.Calls, paymentEndpoint.Failures));

        // Registered, never called.
        var shippingStats = stats.Services[Shipping];
        Assert.Equal((0L, 0L, 0L, 0L, CircuitState.Closed), (shippingStats.MessagesSent, shippingStats.MessagesFailed, shippingStats.Retries, shippingStats.RetriesThrottled, shippingStats.CircuitBreakerState));
        Assert.Equal((0.0, 0.0, 0.0), (shippingStats.AverageLatencyMs, shippingStats.P50LatencyMs, shippingStats.P99LatencyMs));
        Assert.All(shippingStats.Endpoints ?? [], e => Assert.Equal((Address(shippingServer), 0L, 0L), (e.Address, e.Calls, e.Failures)));

        Assert.Equal(
            [(Inventory, "success", "OK"), (Inventory, "success", "OK"), (Inventory, "success", "OK"), (Payment, "success", "OK"), (Payment, "failure", "INVALID_ARGUMENT")],
            calls.GetMeasurementSnapshot().Select(m => (Tag(m.Tags, MeshMetrics.ServiceTag), Tag(m.Tags, MeshMetrics.OutcomeTag), Tag(m.Tags, MeshMetrics.StatusCodeTag))));
        Assert.All(calls.GetMeasurementSnapshot(), m => Assert.Equal((1L, Say), (m.Value, Tag(m.Tags, MeshMetrics.MethodTag))));
        Assert.Equal(
            [(Inventory, "UNAVAILABLE", 1L), (Inventory, "UNAVAILABLE", 1L), (Inventory, "UNAVAILABLE", 1L)],
            retries.GetMeasurementSnapshot().Select(m => (Tag(m.Tags, MeshMetrics.ServiceTag), Tag(m.Tags, MeshMetrics.StatusCodeTag), m.Value)));
        Assert.Equal(
            [(Inventory, 0.4), (Inventory, 1.2), (Inventory, 0.0), (Payment, 0.0), (Payment, 0.0)],
            durations.GetMeasurementSnapshot().Select(m => (Tag(m.Tags, MeshMetrics.ServiceTag), Math.Round(m.Value, 6))));
    }

    [Fact]
    public async Task Instruments_BreakerThroughEveryStateOnRealCalls_GaugeTransitionsAndStatsFollow()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var failing = true;
        var script = new EchoScript(time)
        {
            Say = (request, _) => Volatile.Read(ref failing)
                ? throw new RpcException(new Status(StatusCode.Unavailable, "scripted Unavailable"))
                : Task.FromResult(new EchoReply { Text = request.Text }),
        };
        await using var inventoryServer = await EchoServer.StartAsync(script);
        await using var paymentServer = await EchoServer.StartAsync(new EchoScript(time));
        await using var client = await MeshClientHost.StartAsync(
            MeshConfig.For(inventoryServer.Port, """{ "Retry": { "Enabled": false }, "CircuitBreaker": { "FailureThreshold": 2, "SuccessThreshold": 1, "Timeout": 1000 } }""", paymentServer.Port),
            m => m.AddClient<InventoryClient>(Inventory).AddClient<PaymentClient>(Payment),
            time);
        var meterFactory = client.Get<IMeterFactory>();
        using var gauge = new MetricCollector<int>(meterFactory, MeshMetrics.MeterName, MeshMetrics.CircuitBreakerStateName);
        using var transitions = new MetricCollector<long>(meterFactory, MeshMetrics.MeterName, MeshMetrics.CircuitBreakerTransitionsName);
        var inventory = client.Get<InventoryClient>();
        var mesh = client.Get<ISecureMesh>();

        // Before any call: every registered client's breaker, closed.
        Assert.Equal([(Inventory, 0), (Payment, 0)], Observe(gauge));
        Assert.Equal((CircuitState.Closed, CircuitState.Closed, CircuitState.Closed), States(mesh));

        await Assert.ThrowsAsync<RpcException>(() => inventory.SayAsync(new EchoRequest(), cancellationToken: Ct).ResponseAsync);
        await Assert.ThrowsAsync<RpcException>(() => inventory.SayAsync(new EchoRequest(), cancellationToken: Ct).ResponseAsync);
        var rejected = await Assert.ThrowsAsync<RpcException>(() => inventory.SayAsync(new EchoRequest(), cancellationToken: Ct).ResponseAsync);
        Assert.Contains("is open", rejected.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(2, script.Calls);
        Assert.Equal([(Inventory, 2), (Payment, 0)], Observe(gauge));
        Assert.Equal((CircuitState.Open, CircuitState.Open, CircuitState.Closed), States(mesh));
        Assert.Equal((3L, 3L), (mesh.GetStats().Services[Inventory].MessagesSent, mesh.GetStats().Services[Inventory].MessagesFailed));

        time.Advance(TimeSpan.FromMilliseconds(1000));
        Assert.Equal([(Inventory, 1), (Payment, 0)], Observe(gauge));
        Assert.Equal((CircuitState.HalfOpen, CircuitState.HalfOpen, CircuitState.Closed), States(mesh));

        Volatile.Write(ref failing, false);
        await inventory.SayAsync(new EchoRequest(), cancellationToken: Ct);
        Assert.Equal([(Inventory, 0), (Payment, 0)], Observe(gauge));
        Assert.Equal((CircuitState.Closed, CircuitState.Closed, CircuitState.Closed), States(mesh));

        Assert.Equal(
            [(Inventory, "closed", "open"), (Inventory, "open", "half_open"), (Inventory, "half_open", "closed")],
            transitions.GetMeasurementSnapshot().Select(m => (Tag(m.Tags, MeshMetrics.ServiceTag), Tag(m.Tags, MeshMetrics.FromStateTag), Tag(m.Tags, MeshMetrics.ToStateTag))));
    }

    [Fact]
    public async Task RateLimitDecisions_RealGrpcAndHttpRequests_CountedByResultAndTransportAndInTheStats()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 2, "WindowMs": 60000 }""");
        using var decisions = new MetricCollector<long>(service.Host.Services.GetRequiredService<IMeterFactory>(), MeshMetrics.MeterName, MeshMetrics.RateLimitDecisionsName);

        StatusCode[] grpc = [await service.SayAsync(RateLimitedService.Caller("a")), await service.SayAsync(RateLimitedService.Caller("a")), await service.SayAsync(RateLimitedService.Caller("a"))];
        var http = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await service.GetOrdersAsync("b");
            http.Add(response.StatusCode);
        }

        Assert.Equal([StatusCode.OK, StatusCode.OK, StatusCode.ResourceExhausted], grpc);
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], http);
        Assert.Equal(
            [("admitted", "grpc"), ("admitted", "grpc"), ("rejected", "grpc"), ("admitted", "http"), ("admitted", "http"), ("rejected", "http")],
            decisions.GetMeasurementSnapshot().Select(m => (Tag(m.Tags, MeshMetrics.RateLimitResultTag), Tag(m.Tags, MeshMetrics.TransportTag))));
        var stats = service.Host.Services.GetRequiredService<ISecureMesh>().GetStats();
        Assert.Equal((4L, 2L), (stats.Metrics.RateLimitAllowed, stats.Metrics.RateLimitBlocked));
        Assert.Equal((0L, 0L, CircuitState.Closed), (stats.Metrics.MessagesSent, stats.Metrics.MessagesFailed, stats.Metrics.CircuitBreakerState));
        Assert.Empty(stats.ConnectedServices);
        Assert.Empty(stats.Services);
    }

    [Fact]
    public async Task StoreFailures_SharedStoreKilledUnderRealRequests_CountedWithTheFallbackApplied()
    {
        using var store = SharedStoreServer.Start(SharedStoreServer.Garnet);
        await using var replicas = await StoreReplicas.StartAsync(
            1, store.Json(Payment, """{ "MaxRequests": 5, "WindowMs": 60000, "Store": "Redis", "OnStoreFailure": "Reject" }"""));
        var replica = replicas[0];
        using var failures = new MetricCollector<long>(replica.Host.Services.GetRequiredService<IMeterFactory>(), MeshMetrics.MeterName, RateLimitStoreMetrics.StoreFailuresName);
        Assert.Equal(StatusCode.OK, await replica.SayAsync(RateLimitedService.Caller("a")));
        Assert.Empty(failures.GetMeasurementSnapshot());

        store.Kill();
        var status = await replica.SayAsync(RateLimitedService.Caller("a"));

        Assert.Equal(StatusCode.ResourceExhausted, status); // the Reject fallback
        var measured = failures.GetMeasurementSnapshot();
        Assert.NotEmpty(measured);
        Assert.All(measured, m => Assert.Equal((1L, "reject"), (m.Value, Tag(m.Tags, RateLimitStoreMetrics.FallbackTag))));
        Assert.Equal(replica.Host.Services.GetRequiredService<RateLimitStoreMetrics>().Failures, measured.Sum(m => m.Value));
    }

    [Fact]
    public async Task EndpointInstruments_OutlierEjectedAndReturnedOnRealCalls_GaugeAndTransitionsFollow()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var replicas = await Replicas.StartAsync(2);
        replicas.Scripts[1].Say = EchoScript.FailWith(StatusCode.Unavailable);
        await using var client = await MeshClientHost.StartAsync(
            Replicas.Config(replicas.Endpoints(0, 1), """{ "Retry": { "MaxAttempts": 0 } }"""), m => m.AddClient<InventoryClient>(Inventory), clock);
        var meterFactory = client.Get<IMeterFactory>();
        using var ejected = new MetricCollector<int>(meterFactory, MeshMetrics.MeterName, EndpointMetrics.EjectedName);
        using var transitions = new MetricCollector<long>(meterFactory, MeshMetrics.MeterName, EndpointMetrics.TransitionsName);
        var inventory = client.Get<InventoryClient>();
        await TryCallAsync(inventory);
        Assert.Equal([(Inventory, 0)], Observe(ejected));

        // Five failed attempts in a row (the default ConsecutiveFailures) on replica 1 eject it.
        for (var i = 0; replicas.Scripts[1].Calls < 5; i++)
        {
            Assert.True(i < 1_000, "replica 1 got no calls");
            await TryCallAsync(inventory);
        }

        Assert.Equal([(Inventory, 1)], Observe(ejected));
        var endpoints = client.Get<ISecureMesh>().GetStats().Services[Inventory].Endpoints!;
        Assert.Equal(
            [(replicas.Address(0), "ready", (long)replicas.Scripts[0].Calls, 0L), (replicas.Address(1), "ejected", 5L, 5L)],
            endpoints.Select(e => (e.Address, e.State, e.Calls, e.Failures)));

        clock.Advance(TimeSpan.FromSeconds(30)); // the default BaseEjectionTime
        Assert.Equal([(Inventory, 0)], Observe(ejected));
        Assert.Equal(
            [(Inventory, replicas.Address(1), "ejected"), (Inventory, replicas.Address(1), "returned")],
            transitions.GetMeasurementSnapshot().Select(m => (Tag(m.Tags, MeshMetrics.ServiceTag), Tag(m.Tags, EndpointMetrics.EndpointTag), Tag(m.Tags, EndpointMetrics.ToStateTag))));
    }

    private static async Task TryCallAsync(Echo.EchoClient client)
    {
        try
        {
            await client.SayAsync(new EchoRequest(), cancellationToken: Ct);
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.Unavailable)
        {
            // The failing replica's answer.
        }
    }

    private static (CircuitState Total, CircuitState Inventory, CircuitState Payment) States(ISecureMesh mesh)
    {
        var stats = mesh.GetStats();
        return (stats.Metrics.CircuitBreakerState, stats.Services[Inventory].CircuitBreakerState, stats.Services[Payment].CircuitBreakerState);
    }

    /// <summary>One collection of an observable gauge: its value per service.</summary>
    private static List<(string? Service, int Value)> Observe(MetricCollector<int> gauge)
    {
        gauge.Clear();
        gauge.RecordObservableInstruments();
        return [.. gauge.GetMeasurementSnapshot().Select(m => (Tag(m.Tags, MeshMetrics.ServiceTag), m.Value))];
    }

    private static string Address(MeshTestHost server) => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{server.Port}");

    private static string? Tag(IReadOnlyDictionary<string, object?> tags, string name) =>
        tags.TryGetValue(name, out var value) ? value?.ToString() : null;

    private sealed class ShippingClient(CallInvoker callInvoker) : Echo.EchoClient(callInvoker);
}
