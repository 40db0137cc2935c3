using Grpc.Net.ClientFactory;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>
/// Makes a mesh client's <see cref="GrpcClientFactoryOptions"/> (its address) follow reloads of the mesh options, so
/// that channels the client factory creates after a reload use the reloaded discovery entry.
/// </summary>
internal sealed class DiscoveryChangeTokenSource(string name, IEnumerable<IOptionsChangeTokenSource<SecureMeshOptions>> sources)
    : IOptionsChangeTokenSource<GrpcClientFactoryOptions>
{
    public string Name { get; } = name;

    public IChangeToken GetChangeToken() => new CompositeChangeToken([.. sources.Select(s => s.GetChangeToken())]);
}
