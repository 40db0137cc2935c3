using Grpc.Core;
using Mesh.AspNetCore.Discovery.Internal;
using Mesh.AspNetCore.Tests.Infrastructure;
using Mesh.AspNetCore.Tests.Protos;
using Mesh.AspNetCore.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Discovery;

/// <summary>Calls of one mesh client spread over several real replicas through the mesh's resolver and balancer.</summary>
public sealed class MeshLoadBalancerTests
{
    private const string NoRetryNoEjection = """{ "Retry": { "MaxAttempts": 0 }, "OutlierDetection": { "Enabled": false } }""";

    [Fact]
    public async Task Calls_ThreeEndpoints_SpreadRoundRobinOverAll()
    {
        await using var replicas = await Replicas.StartAsync(3);
        await using var client = await MeshClientHost.StartAsync(
            Replicas.Config(replicas.Endpoints(0, 1, 2), NoRetryNoEjection), m => m.AddClient<InventoryClient>("inventory-service"));
        var inventory = client.Get<InventoryClient>();

        await CallUntilAsync(inventory, () => replicas.Calls.All(c => c > 0));
        var before = replicas.Calls;
        for (var i = 0; i < 30; i++)
        {
            await inventory.SayAsync(new EchoRequest { Text = "x" }, cancellationToken: TestContext.Current.CancellationToken);
        }

        var spread = replicas.Calls.Zip(before, (after, b) => after - b).ToArray();
        Assert.Equal(30, spread.Sum());
        Assert.All(spread, calls => Assert.InRange(calls, 9, 11));
    }

    [Fact]
    public async Task Calls_OneEndpointRefusesConnections_SkippedAndNoCallFails()
    {
        await using var replicas = await Replicas.StartAsync(2);
        using var refused = new RefusedPort();
        var endpoints = $$"""[ { "Host": "127.0.0.1", "Port": {{replicas.Ports[0]}} }, { "Host": "127.0.0.1", "Port": {{refused.Port}} }, { "Host": "127.0.0.1", "Port": {{replicas.Ports[1]}} } ]""";
        await using var client = await MeshClientHost.StartAsync(
            Replicas.Config(endpoints, NoRetryNoEjection), m => m.AddClient<InventoryClient>("inventory-service"));
        var inventory = client.Get<InventoryClient>();

        for (var i = 0; i < 40; i++)
        {
            // Retries are off: a call sent to the refusing endpoint would fail.
            await inventory.SayAsync(new EchoRequest { Text = "x" }, cancellationToken: TestContext.Current.CancellationToken);
        }

        Assert.Equal(40, replicas.Calls.Sum());
        Assert.All(replicas.Calls, calls => Assert.True(calls >= 10, $"each live replica gets calls ({string.Join(", ", replicas.Calls)})"));
        var stats = client.Get<ISecureMesh>().GetStats().Services["inventory-service"].Endpoints!;
        var refusedStats = Assert.Single(stats, e => e.Address == $"127.0.0.1:{refused.Port}");
        Assert.Equal(0, refusedStats.Calls);
        Assert.NotEqual("ready", refusedStats.State);
    }

    [Fact]
    public async Task DisposeAsync_ClientHostStopped_ItsSubchannelsShutDownInsteadOfReconnecting()
    {
        await using var replicas = await Replicas.StartAsync(2);
        var client = await MeshClientHost.StartAsync(
            Replicas.Config(replicas.Endpoints(0, 1), NoRetryNoEjection), m => m.AddClient<InventoryClient>("inventory-service"));
        await CallUntilAsync(client.Get<InventoryClient>(), () => replicas.Calls.All(c => c > 0));
        var endpoints = client.Get<EndpointRegistry>().Get("inventory-service").Current;
        Assert.All(endpoints, e => Assert.Equal("ready", e.Snapshot().State));

        // Grpc.Net.ClientFactory keeps its channels: only the mesh's resolver and balancer can let them go.
        await client.DisposeAsync();

        Assert.All(endpoints, e => Assert.Equal("idle", e.Snapshot().State));
    }

    [Fact]
    public async Task Retry_OneEndpointFails_RetryGoesToAnotherEndpointAndCallSucceeds()
    {
        await using var replicas = await Replicas.StartAsync(2);
        replicas.Scripts[0].Say = EchoScript.FailWith(StatusCode.Unavailable);
        await using var client = await MeshClientHost.StartAsync(
            Replicas.Config(replicas.Endpoints(0, 1), """
                { "Retry": { "MaxAttempts": 1, "InitialDelay": 1 }, "CircuitBreaker": { "FailureThreshold": 100 }, "OutlierDetection": { "Enabled": false } }
                """),
            m => m.AddClient<InventoryClient>("inventory-service"));
        var inventory = client.Get<InventoryClient>();
        await CallUntilAsync(inventory, () => replicas.Calls.All(c => c > 0), tolerateFailures: true);
        var before = replicas.Calls;

        for (var i = 0; i < 20; i++)
        {
            // One retry only: it succeeds because it goes to the other endpoint, not back to the failing one.
            var reply = await inventory.SayAsync(new EchoRequest { Text = "x" }, cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal("x", reply.Text);
        }

        Assert.Equal(20, replicas.Scripts[1].Calls - before[1]);
        Assert.InRange(replicas.Scripts[0].Calls - before[0], 1, 20);
    }

    [Fact]
    public async Task Reload_EndpointsAddedAndRemoved_RunningChannelCallsTheNewAndStopsCallingTheRemoved()
    {
        await using var replicas = await Replicas.StartAsync(3);
        await using var client = await MeshClientHost.StartAsync(
            Replicas.Config(replicas.Endpoints(0, 1), NoRetryNoEjection), m => m.AddClient<InventoryClient>("inventory-service"));
        var inventory = client.Get<InventoryClient>();
        await CallUntilAsync(inventory, () => replicas.Calls[0] > 0 && replicas.Calls[1] > 0);
        Assert.Equal(0, replicas.Calls[2]);

        // Endpoints [0, 1] become [1, 2], as an edit of appsettings.json would.
        client.Reload(
            ("Mesh:Discovery:Services:0:Endpoints:0:Port", replicas.Ports[1].ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("Mesh:Discovery:Services:0:Endpoints:1:Port", replicas.Ports[2].ToString(System.Globalization.CultureInfo.InvariantCulture)));

        await CallUntilAsync(inventory, () => replicas.Calls[2] > 0);
        var removed = replicas.Calls[0];
        for (var i = 0; i < 20; i++)
        {
            await inventory.SayAsync(new EchoRequest { Text = "x" }, cancellationToken: TestContext.Current.CancellationToken);
        }

        Assert.Equal(removed, replicas.Calls[0]);
        Assert.True(replicas.Calls[2] >= 5, $"the added endpoint shares the calls ({string.Join(", ", replicas.Calls)})");
        var stats = client.Get<ISecureMesh>().GetStats().Services["inventory-service"].Endpoints!;
        Assert.Equal([replicas.Address(1), replicas.Address(2)], stats.Select(e => e.Address));
    }

    [Fact]
    public async Task Reload_HostAndPortEntryMovesToAnotherServer_RunningChannelCallsTheNewServer()
    {
        var oldScript = new EchoScript();
        var newScript = new EchoScript();
        await using var oldServer = await EchoServer.StartAsync(oldScript);
        await using var newServer = await EchoServer.StartAsync(newScript);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(oldServer.Port), m => m.AddClient<InventoryClient>("inventory-service"));
        var inventory = client.Get<InventoryClient>();
        await inventory.SayAsync(new EchoRequest { Text = "before" }, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(1, oldScript.Calls);

        client.Reload(("Mesh:Discovery:Services:0:Port", newServer.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        await CallUntilAsync(inventory, () => newScript.Calls > 0);
        var old = oldScript.Calls;
        for (var i = 0; i < 10; i++)
        {
            await inventory.SayAsync(new EchoRequest { Text = "after" }, cancellationToken: TestContext.Current.CancellationToken);
        }

        Assert.Equal(old, oldScript.Calls);
        Assert.True(newScript.Calls >= 11);
    }

    [Fact]
    public async Task Dns_Localhost_ResolvedToItsAddressesAndCalled()
    {
        var script = new EchoScript();
        await using var server = await EchoServer.StartAsync(script);
        var json = $$"""
            {
              "Mesh": {
                "ServiceId": "order-service",
                "Resilience": { "Retry": { "MaxAttempts": 0 } },
                "Discovery": { "Services": [ { "Id": "inventory-service", "Host": "localhost", "Port": {{server.Port}}, "Dns": true } ] }
              }
            }
            """;
        await using var client = await MeshClientHost.StartAsync(json, m => m.AddClient<InventoryClient>("inventory-service"));
        var inventory = client.Get<InventoryClient>();

        for (var i = 0; i < 10; i++)
        {
            await inventory.SayAsync(new EchoRequest { Text = "x" }, cancellationToken: TestContext.Current.CancellationToken);
        }

        Assert.Equal(10, script.Calls);
        var stats = client.Get<ISecureMesh>().GetStats().Services["inventory-service"].Endpoints!;
        var loopback = Assert.Single(stats, e => e.Address == $"127.0.0.1:{server.Port}");
        Assert.Equal("ready", loopback.State);
        Assert.Equal(10, loopback.Calls);
        Assert.DoesNotContain(stats, e => e.Address.StartsWith("localhost", StringComparison.Ordinal));
    }

    /// <summary>Makes calls until <paramref name="condition"/> holds (the balancer connects asynchronously), within 30 s.</summary>
    internal static async Task CallUntilAsync(Echo.EchoClient client, Func<bool> condition, bool tolerateFailures = false)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            try
            {
                await client.SayAsync(new EchoRequest { Text = "warm-up" }, cancellationToken: timeout.Token);
            }
            catch (RpcException) when (tolerateFailures && !timeout.IsCancellationRequested)
            {
            }
        }
    }
}
