using Mesh.AspNetCore;
using Mesh.AspNetCore.Configuration.Internal;
using Mesh.AspNetCore.Identity.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

public static partial class MeshServiceCollectionExtensions
{
    /// <summary>
    /// Mutual TLS (<c>Mesh:Tls</c>), the caller's certificate identity as its <see cref="System.Security.Claims.ClaimsPrincipal"/>
    /// (also through the <c>MeshCertificate</c> authentication scheme), and <c>Mesh:Authorization</c>. Registered before
    /// the rate limit, so that the caller is known and authorized before any quota is counted.
    /// </summary>
    private static void AddIdentity(IServiceCollection services)
    {
        services.TryAddSingleton<TlsMaterialSource>();
        services.TryAddSingleton<MeshServerTls>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SecureMeshOptions>, TlsOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Transient<IStartupFilter, CallerIdentityStartupFilter>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<AuthenticationOptions>, AddMeshCertificateScheme>());
    }

    /// <summary>
    /// Adds ASP.NET Core authentication, which the <c>MeshCertificate</c> scheme needs, when <c>Mesh:Tls</c> may be set:
    /// the section read now has a <c>Tls</c> member, or the options come from code or from a configuration that is not
    /// built yet. Without it, an application that uses no authentication does not run the authentication middleware,
    /// which <c>WebApplication</c> adds whenever authentication is registered, on every request. Should <c>Mesh:Tls</c>
    /// arrive later, <see cref="TlsOptionsValidator"/> stops the start-up and says what to do.
    /// </summary>
    private static void AddAuthenticationForTls(IServiceCollection services, MeshConfigurationSource? source)
    {
        var section = source?.ResolveEarly(services);
        if ((section is null || section.GetSection(nameof(SecureMeshOptions.Tls)).Exists())
            && !services.Any(static d => d.ServiceType == typeof(IAuthenticationSchemeProvider)))
        {
            services.AddAuthentication();
        }
    }

    /// <summary>
    /// Adds the <c>MeshCertificate</c> scheme once, whoever else configures authentication, and only with <c>Mesh:Tls</c>:
    /// an application without it keeps its own single scheme as the default.
    /// </summary>
    private sealed class AddMeshCertificateScheme(IOptionsMonitor<SecureMeshOptions> mesh) : IConfigureOptions<AuthenticationOptions>
    {
        public void Configure(AuthenticationOptions options)
        {
            if (mesh.CurrentValue.Tls.IsConfigured
                && !options.Schemes.Any(static s => s.Name == IdentityConstants.AuthenticationScheme))
            {
                options.AddScheme<MeshCertificateAuthenticationHandler>(IdentityConstants.AuthenticationScheme, displayName: "Mesh certificate");
            }
        }
    }
}
