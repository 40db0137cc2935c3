using Mesh.AspNetCore;
using Mesh.AspNetCore.Configuration.Internal;
using Mesh.AspNetCore.Internal;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers the mesh: options, inbound rate limiting, resilient gRPC clients, discovery and telemetry.
/// </summary>
public static partial class MeshServiceCollectionExtensions
{
    /// <summary>
    /// Registers the mesh configured from the application's <c>Mesh</c> configuration section.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>A builder to register mesh clients with.</returns>
    /// <remarks>Calling it more than once registers nothing twice.</remarks>
    public static ISecureMeshBuilder AddSecureMesh(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return AddSecureMeshCore(services, MeshConfigurationSource.Default);
    }

    /// <summary>
    /// Registers the mesh configured from the given configuration section, which has the shape of <c>Mesh</c>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="section">The section to bind <see cref="SecureMeshOptions"/> from; reloads of it apply at run time.</param>
    /// <returns>A builder to register mesh clients with.</returns>
    public static ISecureMeshBuilder AddSecureMesh(this IServiceCollection services, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        return AddSecureMeshCore(services, MeshConfigurationSource.For(section));
    }

    /// <summary>
    /// Registers the mesh configured in code.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options; runs after any configuration binding.</param>
    /// <returns>A builder to register mesh clients with.</returns>
    public static ISecureMeshBuilder AddSecureMesh(this IServiceCollection services, Action<SecureMeshOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        var builder = AddSecureMeshCore(services, source: null);
        services.Configure(configure);
        return builder;
    }

    private static SecureMeshBuilder AddSecureMeshCore(IServiceCollection services, MeshConfigurationSource? source)
    {
        if (source is not null && !services.Any(d => d.ImplementationInstance is MeshConfigurationSource known && known.IsSameAs(source)))
        {
            services.AddSingleton(source);
        }

        var builder = new SecureMeshBuilder(services);
        AddAuthenticationForTls(services, source);
        if (services.Any(d => d.ServiceType == typeof(SecureMeshMarker)))
        {
            return builder;
        }

        services.AddSingleton<SecureMeshMarker>();
        services.AddOptions<SecureMeshOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<SecureMeshOptions>, BindMeshOptions>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SecureMeshOptions>, SecureMeshOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IOptionsChangeTokenSource<SecureMeshOptions>, ValidatedReloadTokenSource>());
        services.TryAddSingleton<ValidatedOptionsFactory>();
        services.TryAddSingleton<IOptionsFactory<SecureMeshOptions>>(static sp => sp.GetRequiredService<ValidatedOptionsFactory>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<KestrelServerOptions>, ConfigureMeshKestrel>());
        services.TryAddSingleton(TimeProvider.System);

        AddIdentity(services);
        AddRateLimiting(services);
        AddResilience(services);
        AddTelemetry(services);
        return builder;
    }

    /// <summary>Shows that the mesh's services are registered.</summary>
    private sealed class SecureMeshMarker;
}
