using Microsoft.Extensions.Configuration;

namespace Mesh.AspNetCore.Configuration.Internal;

/// <summary>
/// The configuration section the mesh options are bound from, resolved when the container is built so that
/// <c>AddSecureMesh()</c> sees the application's final configuration.
/// </summary>
internal sealed class MeshConfigurationSource(Func<IServiceProvider, IConfiguration> resolve)
{
    public IConfiguration Resolve(IServiceProvider services) => resolve(services);

    /// <summary>The key path of a section, or <c>Mesh</c> for a configuration root.</summary>
    public static string PathOf(IConfiguration configuration) =>
        configuration is IConfigurationSection section ? section.Path : SecureMeshOptions.SectionName;
}
