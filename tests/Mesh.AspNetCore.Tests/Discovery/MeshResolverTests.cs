using Grpc.Net.Client.Balancer;
using Mesh.AspNetCore.Discovery.Internal;
using Mesh.AspNetCore.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Tests.Discovery;

/// <summary>The mesh's resolver over a real, reloading configuration: what it publishes to its channel, and when.</summary>
public sealed class MeshResolverTests
{
    [Fact]
    public async Task Reload_AsAResolutionEnds_PublishedAfterIt()
    {
        // No server is called: the ports only name the endpoints.
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(50001), m => m.AddClient<InventoryClient>("inventory-service"));
        using var resolver = ResolverOf(client);
        var published = new List<int>();
        resolver.Start(result => published.Add(result.Addresses!.Single().EndPoint.Port));

        // The reload comes after the first resolution published the old port and before it ended.
        var reloaded = false;
        resolver.OnPublished = () =>
        {
            if (!reloaded)
            {
                reloaded = true;
                client.Reload(("Mesh:Discovery:Services:0:Port", "50002"));
            }
        };
        resolver.Refresh();

        Assert.Equal([50001, 50002], published);
    }

    [Fact]
    public async Task Refresh_AfterAPublishTheChannelRefusedAsDisposed_PublishesAgain()
    {
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(50001), m => m.AddClient<InventoryClient>("inventory-service"));
        using var resolver = ResolverOf(client);
        var published = new List<int>();
        var refused = false;
        resolver.Start(result =>
        {
            // grpc-dotnet's channel throws ObjectDisposedException from its listener while it is being disposed.
            if (!refused)
            {
                refused = true;
                throw new ObjectDisposedException("channel");
            }

            published.Add(result.Addresses!.Single().EndPoint.Port);
        });
        resolver.Refresh();

        // The resolver itself was not disposed: a refresh asked for later resolves and publishes.
        client.Reload(("Mesh:Discovery:Services:0:Port", "50002"));
        resolver.Refresh();

        Assert.True(refused);
        Assert.Contains(50002, published);
    }

    private static MeshResolver ResolverOf(MeshClientHost client) => new(
        "inventory-service",
        client.Get<EndpointRegistry>().Get("inventory-service"),
        client.Get<IOptionsMonitor<SecureMeshOptions>>(),
        TimeProvider.System,
        NullLoggerFactory.Instance);
}
