using Mesh.AspNetCore;
using Mesh.AspNetCore.Identity.Internal;
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
        services.AddAuthentication();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<AuthenticationOptions>, AddMeshCertificateScheme>());
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
