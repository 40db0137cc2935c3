using Grpc.Core;
using Grpc.Net.ClientFactory;
using Mesh.AspNetCore.Tests.Protos;
using Mesh.AspNetCore.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Tests.Discovery;

/// <summary><c>AddClient&lt;TClient&gt;(serviceId)</c>: typed clients of discovered services.</summary>
public sealed class SecureMeshBuilderExtensionsTests
{
    private static readonly EchoRequest Hello = new() { Text = "hello" };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task StartAsync_ClientForUnlistedService_FailsNamingTheId()
    {
        var (host, _) = MeshClientHost.Build(MeshConfig.For(5001), m => m.AddClient<InventoryClient>("inventory-service").AddClient<PaymentClient>("payment-service"));
        using (host)
        {
            var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(Ct));

            Assert.Contains(
                "Mesh:Discovery:Services has no service 'payment-service', for which AddClient<PaymentClient> registered a client.",
                error.Message,
                StringComparison.Ordinal);
            Assert.DoesNotContain("'inventory-service'", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Call_ThroughPlainAndMeshClient_ReachesTheDiscoveredServiceWithServiceIdHeader()
    {
        var script = new EchoScript();
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port), m => m.AddClient<InventoryClient>("inventory-service"));
        var meshClient = client.Get<IMeshClient<InventoryClient>>();

        var metadata = new Metadata { { "x-mesh-service-id", "spoofed" }, { "x-other", "kept" } };
        Assert.Equal("a", (await meshClient.Client.SayAsync(new EchoRequest { Text = "a" }, metadata, cancellationToken: Ct)).Text);
        Assert.Equal("b", (await client.Get<InventoryClient>().SayAsync(new EchoRequest { Text = "b" }, cancellationToken: Ct)).Text);

        Assert.Equal("inventory-service", meshClient.ServiceId);
        Assert.Equal(CircuitState.Closed, meshClient.CircuitState);
        Assert.Equal(["order-service", "order-service"], script.Callers);
        Assert.Equal(2, metadata.Count);
    }

    [Fact]
    public async Task Call_ServerStreaming_CarriesServiceIdHeader()
    {
        var script = new EchoScript();
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port), m => m.AddClient<InventoryClient>("inventory-service"));

        using var call = client.Get<InventoryClient>().ServerStream(new EchoRequest { Text = "x", Count = 3 }, cancellationToken: Ct);
        var replies = new List<string>();
        while (await call.ResponseStream.MoveNext(Ct))
        {
            replies.Add(call.ResponseStream.Current.Text);
        }

        Assert.Equal(["x", "x", "x"], replies);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal(["order-service"], script.Callers);
    }

    [Fact]
    public async Task AddClient_Twice_RegistersNothingTwice()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "Retry": { "MaxAttempts": 1 } }""";
        await using var client = await MeshClientHost.StartAsync(
            MeshConfig.For(server.Port, resilience),
            m => m.AddClient<InventoryClient>("inventory-service").AddClient<InventoryClient>("inventory-service"),
            time);

        var call = client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        var delays = await time.DriveAsync(call);

        // One retry interceptor: two attempts, not four.
        Assert.Single(delays);
        Assert.Equal(2, script.Calls);
        Assert.Equal(["order-service", "order-service"], script.Callers);
        var options = client.Get<IOptionsMonitor<GrpcClientFactoryOptions>>().Get(nameof(InventoryClient));
        Assert.Equal(2, options.InterceptorRegistrations.Count);
    }

    [Fact]
    public void AddClient_SameTypeForAnotherService_Throws()
    {
        var services = new ServiceCollection();
        var builder = services.AddSecureMesh().AddClient<InventoryClient>("inventory-service");

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddClient<InventoryClient>("payment-service"));

        Assert.Contains("inventory-service", error.Message, StringComparison.Ordinal);
        Assert.Contains("payment-service", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddClient_DiscoveryReloaded_ChannelAddressIsTheServiceResolvedByTheMesh()
    {
        var first = new EchoScript();
        var second = new EchoScript();
        await using var firstServer = await EchoServer.StartAsync(first);
        await using var secondServer = await EchoServer.StartAsync(second);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(firstServer.Port), m => m.AddClient<InventoryClient>("inventory-service"));
        var options = client.Get<IOptionsMonitor<GrpcClientFactoryOptions>>();
        Assert.Equal(new Uri("mesh:///inventory-service"), options.Get(nameof(InventoryClient)).Address);

        client.Reload(("Mesh:Discovery:Services:0:Port", secondServer.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        // The address names the service, not a server: the mesh's resolver gives the running channel the new endpoint.
        Assert.Equal(new Uri("mesh:///inventory-service"), options.Get(nameof(InventoryClient)).Address);
    }
}
