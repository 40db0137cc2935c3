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
    private readonly Func<IServiceCollection, IConfiguration?> _resolveEarly;
    private readonly object _identity;

    private MeshConfigurationSource(Func<IServiceProvider, IConfiguration> resolve, Func<IServiceCollection, IConfiguration?> resolveEarly, object identity)
    {
        _resolve = resolve;
        _resolveEarly = resolveEarly;
        _identity = identity;
    }

    /// <summary>The application's <c>Mesh</c> section.</summary>
    public static MeshConfigurationSource Default { get; } = new(
        static sp => sp.GetRequiredService<IConfiguration>().GetSection(SecureMeshOptions.SectionName),
        static services => FindConfiguration(services)?.GetSection(SecureMeshOptions.SectionName),
        SecureMeshOptions.SectionName.ToUpperInvariant());

    /// <summary>A section given by the application.</summary>
    /// <remarks>
    /// <c>GetSection</c> returns a new object on each call, so sections are told apart by their path: the same path
    /// given twice is bound once.
    /// </remarks>
    public static MeshConfigurationSource For(IConfiguration section) =>
        new(_ => section, _ => section, section is IConfigurationSection { Path: var path } ? path.ToUpperInvariant() : section);

    public IConfiguration Resolve(IServiceProvider services) => _resolve(services);

    /// <summary>
    /// The section as far as it can be read while services are being registered: a section given by the application,
    /// or the <c>Mesh</c> section of the configuration instance that <c>WebApplicationBuilder</c> and
    /// <c>HostApplicationBuilder</c> register; <see langword="null"/> when the configuration is not built yet.
    /// </summary>
    public IConfiguration? ResolveEarly(IServiceCollection services) => _resolveEarly(services);

    /// <summary>
    /// The application's configuration while services are being registered: the instance registered as
    /// <see cref="IConfiguration"/>, or what its factory returns without any service (<c>HostApplicationBuilder</c> and
    /// <c>WebApplicationBuilder</c> register their configuration manager as a factory that returns it).
    /// </summary>
    private static IConfiguration? FindConfiguration(IServiceCollection services)
    {
        var descriptor = services.LastOrDefault(static d => d.ServiceType == typeof(IConfiguration) && !d.IsKeyedService);
        if (descriptor?.ImplementationInstance is IConfiguration configuration)
        {
            return configuration;
        }

        if (descriptor?.ImplementationFactory is not { } factory)
        {
            return null;
        }

        try
        {
            return factory(NoServices.Instance) as IConfiguration;
        }
        catch (InvalidOperationException)
        {
            return null; // the factory needs services: the configuration is not known before the container is built
        }
    }

    /// <summary>Whether both read the same section, so that registering the second would bind it twice.</summary>
    public bool IsSameAs(MeshConfigurationSource other) => Equals(_identity, other._identity);

    /// <summary>The key path of a section, or <c>Mesh</c> for a configuration root.</summary>
    public static string PathOf(IConfiguration configuration) =>
        configuration is IConfigurationSection section ? section.Path : SecureMeshOptions.SectionName;
}

/// <summary>A service provider without services, to call a configuration factory before the container exists.</summary>
file sealed class NoServices : IServiceProvider
{
    public static readonly NoServices Instance = new();

    public object? GetService(Type serviceType) => null;
}
