using System.Diagnostics.Metrics;
using System.Text.Json;
using Grpc.Core;
using Mesh.AspNetCore.Telemetry.Internal;
using Mesh.AspNetCore.Tests.Protos;
using Mesh.AspNetCore.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.Discovery;

/// <summary>
/// Outlier ejection of single endpoints among real replicas, on a fake clock: an endpoint that keeps failing gets no
/// calls until its ejection time has passed, while the service's circuit breaker, which sees every attempt, stays closed.
/// </summary>
public sealed class OutlierDetectionTests
{
    // Retries off, so each call is one attempt and its endpoint is known; the breaker at its defaults (5 consecutive failures).
    private const string Resilience = """{ "Retry": { "MaxAttempts": 0 } }""";

    [Fact]
    public async Task Calls_OneEndpointAlwaysFails_EjectedAfterConsecutiveFailuresAndBackAfterEjectionTime()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var replicas = await Replicas.StartAsync(3);
        await using var client = await MeshClientHost.StartAsync(
            Replicas.Config(replicas.Endpoints(0, 1, 2), Resilience), m => m.AddClient<InventoryClient>("inventory-service"), clock);
        using var transitions = new MetricCollector<long>(client.Get<IMeterFactory>(), MeshMetrics.MeterName, "mesh.endpoint.transitions");
        var inventory = client.Get<InventoryClient>();
        var bad = replicas.Scripts[2];

        // Every replica connected first (each answered a call), so that the ejected one is never the only one to pick.
        await CallUntilAsync(inventory, () => replicas.Calls.All(c => c > 0));
        var warm = bad.Calls;
        bad.Say = EchoScript.FailWith(StatusCode.Unavailable);

        // Default ConsecutiveFailures: 5 failed attempts in a row on the bad endpoint eject it.
        var failed = await CallUntilAsync(inventory, () => bad.Calls - warm >= 5);
        Assert.Equal(5, bad.Calls - warm);
        Assert.Equal(5, failed);
        Assert.Equal("ejected", EndpointOf(client, replicas.Address(2)).State);

        // Ejected: no call reaches it, and no call fails.
        Assert.Equal(0, await CallsAsync(inventory, 30));
        Assert.Equal(5, bad.Calls - warm);

        // Just before BaseEjectionTime (30 s) it is still ejected; at 30 s it gets calls again.
        clock.Advance(TimeSpan.FromMilliseconds(29_999));
        Assert.Equal(0, await CallsAsync(inventory, 9));
        Assert.Equal(5, bad.Calls - warm);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.NotEqual("ejected", EndpointOf(client, replicas.Address(2)).State);
        await CallUntilAsync(inventory, () => bad.Calls - warm >= 10);

        // The second ejection lasts twice as long: 30 s later it is still out, 60 s later it is back.
        Assert.Equal("ejected", EndpointOf(client, replicas.Address(2)).State);
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(0, await CallsAsync(inventory, 9));
        Assert.Equal(10, bad.Calls - warm);
        clock.Advance(TimeSpan.FromSeconds(30));
        await CallUntilAsync(inventory, () => bad.Calls - warm >= 11);

        // The breaker saw every attempt (the failures among successes) and never opened.
        Assert.Equal(CircuitState.Closed, client.Get<IMeshClient<InventoryClient>>().CircuitState);
        Assert.DoesNotContain(client.Logs.Entries, e => e.EventId.Name == "CircuitOpened");
        var endpoint = EndpointOf(client, replicas.Address(2));
        Assert.Equal(bad.Calls, endpoint.Calls);
        Assert.Equal(bad.Calls - warm, endpoint.Failures);

        Assert.Equal(2, client.Logs.Entries.Count(e => e.EventId.Name == "EndpointEjected"));
        Assert.Equal(2, client.Logs.Entries.Count(e => e.EventId.Name == "EndpointReturned"));
        Assert.Contains(client.Logs.Entries, e => e.EventId.Name == "EndpointEjected" && e.Message.Contains(replicas.Address(2), StringComparison.Ordinal));
        var measurements = transitions.GetMeasurementSnapshot();
        Assert.Equal(2, measurements.Count(m => (string?)m.Tags["mesh.endpoint.to"] == "ejected" && (string?)m.Tags["mesh.endpoint"] == replicas.Address(2)));
        Assert.Equal(2, measurements.Count(m => (string?)m.Tags["mesh.endpoint.to"] == "returned"));
        Assert.All(measurements, m => Assert.Equal("inventory-service", m.Tags["mesh.service"]));
    }

    [Fact]
    public async Task Calls_EveryEndpointFails_NeverAllEjected()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var replicas = await Replicas.StartAsync(2);
        await using var client = await MeshClientHost.StartAsync(
            Replicas.Config(replicas.Endpoints(0, 1), """
                { "Retry": { "MaxAttempts": 0 }, "CircuitBreaker": { "Enabled": false }, "OutlierDetection": { "ConsecutiveFailures": 2, "MaxEjectionPercent": 100 } }
                """),
            m => m.AddClient<InventoryClient>("inventory-service"), clock);
        var inventory = client.Get<InventoryClient>();

        // Both endpoints connected first (each answered a call). Until the second connects, the first is the only one
        // the picker can use, and it keeps getting calls even once ejected: an ejection never takes the last one away.
        await CallUntilAsync(inventory, () => replicas.Calls.All(c => c > 0));
        replicas.Scripts[0].Say = EchoScript.FailWith(StatusCode.Internal);
        replicas.Scripts[1].Say = EchoScript.FailWith(StatusCode.Internal);

        var failed = await CallUntilAsync(inventory, () => Failures(client).Sum() >= 40);

        // Round robin: the first endpoint to fail twice in a row is ejected; the other fails as often, but ejecting
        // it too would leave none, so it stays in use and takes every call after that.
        Assert.Equal(40, failed);
        var endpoints = client.Get<ISecureMesh>().GetStats().Services["inventory-service"].Endpoints!;
        var ejected = Assert.Single(endpoints, e => e.State == "ejected");
        var remaining = Assert.Single(endpoints, e => e.State != "ejected");
        Assert.Equal(2, ejected.Failures);
        Assert.Equal(38, remaining.Failures);
        Assert.Equal("ready", remaining.State);
    }

    private static long[] Failures(MeshClientHost client) =>
        [.. client.Get<ISecureMesh>().GetStats().Services["inventory-service"].Endpoints!.Select(e => e.Failures)];

    [Fact]
    public async Task Calls_MaxEjectionPercentOfThree_EjectsOneOfTwoFailingEndpoints()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var replicas = await Replicas.StartAsync(3);
        replicas.Scripts[1].Say = EchoScript.FailWith(StatusCode.Unavailable);
        replicas.Scripts[2].Say = EchoScript.FailWith(StatusCode.Unavailable);
        await using var client = await MeshClientHost.StartAsync(
            Replicas.Config(replicas.Endpoints(0, 1, 2), """{ "Retry": { "MaxAttempts": 0 }, "CircuitBreaker": { "Enabled": false } }"""),
            m => m.AddClient<InventoryClient>("inventory-service"), clock);
        var inventory = client.Get<InventoryClient>();

        await CallUntilAsync(inventory, () => replicas.Calls.Sum() >= 60);

        // 50% of 3 endpoints, rounded down: one.
        Assert.Single(client.Get<ISecureMesh>().GetStats().Services["inventory-service"].Endpoints!, e => e.State == "ejected");
    }

    [Fact]
    public async Task Calls_CallerErrorsFromOneEndpoint_NotEjected()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var replicas = await Replicas.StartAsync(2);
        replicas.Scripts[1].Say = EchoScript.FailWith(StatusCode.InvalidArgument);
        await using var client = await MeshClientHost.StartAsync(
            Replicas.Config(replicas.Endpoints(0, 1), Resilience), m => m.AddClient<InventoryClient>("inventory-service"), clock);
        var inventory = client.Get<InventoryClient>();

        await CallUntilAsync(inventory, () => replicas.Scripts[1].Calls >= 20);

        var endpoint = EndpointOf(client, replicas.Address(1));
        Assert.Equal("ready", endpoint.State);
        Assert.Equal(0, endpoint.Failures);
    }

    [Fact]
    public async Task Calls_OutlierDetectionDisabled_FailingEndpointKeepsGettingCalls()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var replicas = await Replicas.StartAsync(2);
        replicas.Scripts[1].Say = EchoScript.FailWith(StatusCode.Unavailable);
        await using var client = await MeshClientHost.StartAsync(
            Replicas.Config(replicas.Endpoints(0, 1), """{ "Retry": { "MaxAttempts": 0 }, "CircuitBreaker": { "Enabled": false }, "OutlierDetection": { "Enabled": false } }"""),
            m => m.AddClient<InventoryClient>("inventory-service"), clock);
        var inventory = client.Get<InventoryClient>();

        await CallUntilAsync(inventory, () => replicas.Scripts[1].Calls >= 20);

        Assert.Equal("ready", EndpointOf(client, replicas.Address(1)).State);
    }

    [Fact]
    public async Task MapMeshStats_Endpoints_SerializedWithAddressStateCallsAndFailures()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var replicas = await Replicas.StartAsync(2);
        replicas.Scripts[1].Say = EchoScript.FailWith(StatusCode.Unavailable);
        await using var client = await MeshClientHost.StartAsync(
            Replicas.Config(replicas.Endpoints(0, 1), Resilience), m => m.AddClient<InventoryClient>("inventory-service"), clock);
        await CallUntilAsync(client.Get<InventoryClient>(), () => replicas.Scripts[1].Calls >= 5);

        var json = JsonSerializer.Serialize(client.Get<ISecureMesh>().GetStats(), MeshStatsJsonContext.Default.MeshStats);

        using var document = JsonDocument.Parse(json);
        Assert.False(document.RootElement.GetProperty("metrics").TryGetProperty("endpoints", out _));
        var endpoints = document.RootElement.GetProperty("services").GetProperty("inventory-service").GetProperty("endpoints").EnumerateArray().ToArray();
        Assert.Equal([replicas.Address(0), replicas.Address(1)], endpoints.Select(e => e.GetProperty("address").GetString()));
        Assert.Equal(["ready", "ejected"], endpoints.Select(e => e.GetProperty("state").GetString()));
        Assert.Equal(replicas.Scripts[0].Calls, endpoints[0].GetProperty("calls").GetInt64());
        Assert.Equal(0, endpoints[0].GetProperty("failures").GetInt64());
        Assert.Equal(5, endpoints[1].GetProperty("calls").GetInt64());
        Assert.Equal(5, endpoints[1].GetProperty("failures").GetInt64());
    }

    private static EndpointStats EndpointOf(MeshClientHost client, string address) =>
        Assert.Single(client.Get<ISecureMesh>().GetStats().Services["inventory-service"].Endpoints!, e => e.Address == address);

    /// <summary>Makes <paramref name="count"/> calls and returns how many failed.</summary>
    private static async Task<int> CallsAsync(Echo.EchoClient client, int count)
    {
        var failed = 0;
        for (var i = 0; i < count; i++)
        {
            try
            {
                await client.SayAsync(new EchoRequest { Text = "x" }, cancellationToken: TestContext.Current.CancellationToken);
            }
            catch (RpcException)
            {
                failed++;
            }
        }

        return failed;
    }

    /// <summary>Makes calls until <paramref name="condition"/> holds, within 30 s real time; returns how many failed.</summary>
    private static async Task<int> CallUntilAsync(Echo.EchoClient client, Func<bool> condition)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        var failed = 0;
        while (!condition())
        {
            try
            {
                await client.SayAsync(new EchoRequest { Text = "x" }, cancellationToken: timeout.Token);
            }
            catch (RpcException) when (!timeout.IsCancellationRequested)
            {
                failed++;
            }
        }

        return failed;
    }
}
