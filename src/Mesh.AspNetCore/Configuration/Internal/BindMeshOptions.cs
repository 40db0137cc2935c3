using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Configuration.Internal;

/// <summary>Binds <see cref="SecureMeshOptions"/> from every configuration section registered for the mesh.</summary>
internal sealed class BindMeshOptions(IEnumerable<MeshConfigurationSource> sources, IServiceProvider services)
    : IConfigureOptions<SecureMeshOptions>
{
    public void Configure(SecureMeshOptions options)
    {
        foreach (var source in sources)
        {
            source.Resolve(services).Bind(options);
        }
    }
}
