using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Configuration.Internal;

/// <summary>
/// The configuration section the mesh options are bound from, resolved when the container is built so that
/// <c>AddSecureMesh()</c> sees the application's final configuration.
/// </summary>
internal sealed class MeshConfigurationSource
{
    private readonly Func<IServiceProvider, IConfiguration> _resolve;
    private readonly object _identity;

    private MeshConfigurationSource(Func<IServiceProvider, IConfiguration> resolve, object identity)
    {
        _resolve = resolve;
        _identity = identity;
    }

    /// <summary>The application's <c>Mesh</c> section.</summary>
    public static MeshConfigurationSource Default { get; } = new(
        static sp => sp.GetRequiredService<IConfiguration>().GetSection(SecureMeshOptions.SectionName),
        SecureMeshOptions.SectionName.ToUpperInvariant());

    /// <summary>A section given by the application.</summary>
    /// <remarks>
    /// <c>GetSection</c> returns a new object on each call, so sections are told apart by their path: the same path
    /// given twice is bound once.
    /// </remarks>
    public static MeshConfigurationSource For(IConfiguration section) =>
        new(_ => section, section is IConfigurationSection { Path: var path } ? path.ToUpperInvariant() : section);

    public IConfiguration Resolve(IServiceProvider services) => _resolve(services);

    /// <summary>Whether both read the same section, so that registering the second would bind it twice.</summary>
    public bool IsSameAs(MeshConfigurationSource other) => Equals(_identity, other._identity);

    /// <summary>The key path of a section, or <c>Mesh</c> for a configuration root.</summary>
    public static string PathOf(IConfiguration configuration) =>
        configuration is IConfigurationSection section ? section.Path : SecureMeshOptions.SectionName;
}
