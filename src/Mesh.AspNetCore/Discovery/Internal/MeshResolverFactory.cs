using Grpc.Net.Client.Balancer;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>
/// Serves the <c>mesh:///&lt;service id&gt;</c> addresses of mesh channels with a <see cref="MeshResolver"/> fed by
/// <c>Mesh:Discovery</c>. Registered in DI, where gRPC channels find their resolver factories.
/// </summary>
internal sealed class MeshResolverFactory(IOptionsMonitor<SecureMeshOptions> meshOptions, EndpointRegistry endpoints, TimeProvider timeProvider) : ResolverFactory, IDisposable
{
    private readonly ChannelPartTracker _created = new();

    public override string Name => DiscoveryConstants.Scheme;

    /// <summary>The channel address of a target service.</summary>
    public static Uri AddressOf(string serviceId) => new($"{DiscoveryConstants.Scheme}:///{Uri.EscapeDataString(serviceId)}");

    public override Resolver Create(ResolverOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var serviceId = Uri.UnescapeDataString(options.Address.AbsolutePath.TrimStart('/'));
        return _created.Track(new MeshResolver(serviceId, endpoints.Get(serviceId), meshOptions, timeProvider, options.LoggerFactory));
    }

    /// <summary>Disposes the resolvers this factory created: the application is stopping.</summary>
    public void Dispose() => _created.Dispose();
}
