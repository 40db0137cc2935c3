using System.Globalization;
using Mesh.AspNetCore.Configuration.Internal;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Identity.Internal;

/// <summary>
/// Validates <c>Mesh:Tls</c> and <c>Mesh:Authorization</c> at startup and on every reload: all three TLS paths or none,
/// the files readable and consistent (see <see cref="TlsMaterialLoader"/>), and well-formed caller rules, which need TLS.
/// </summary>
internal sealed class TlsOptionsValidator(IEnumerable<MeshConfigurationSource> sources, IServiceProvider services, TimeProvider time)
    : IValidateOptions<SecureMeshOptions>
{
    public ValidateOptionsResult Validate(string? name, SecureMeshOptions options)
    {
        var errors = new List<string>();
        var root = Root(sources, services);
        ValidateTls(options.Tls, $"{root}:Tls", time.GetUtcNow(), errors);
        ValidateAuthenticationRegistered(options.Tls, $"{root}:Tls", errors);
        ValidateAuthorization(options, root, errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>The key of the TLS section, such as <c>Mesh:Tls</c>.</summary>
    internal static string TlsKey(IEnumerable<MeshConfigurationSource> sources, IServiceProvider services) => $"{Root(sources, services)}:Tls";

    private static string Root(IEnumerable<MeshConfigurationSource> sources, IServiceProvider services) =>
        sources.Select(source => MeshConfigurationSource.PathOf(source.Resolve(services))).LastOrDefault() ?? SecureMeshOptions.SectionName;

    private static void ValidateTls(TlsOptions tls, string key, DateTimeOffset now, List<string> errors)
    {
        if (!tls.IsConfigured)
        {
            return;
        }

        var missing = new[] { (nameof(TlsOptions.CertificatePath), tls.CertificatePath), (nameof(TlsOptions.KeyPath), tls.KeyPath), (nameof(TlsOptions.CaPath), tls.CaPath) }
            .Where(static entry => string.IsNullOrWhiteSpace(entry.Item2))
            .Select(entry => $"{key}:{entry.Item1}")
            .ToList();
        if (missing.Count > 0)
        {
            errors.Add($"{key} is partly set: {string.Join(", ", missing)} {(missing.Count == 1 ? "is" : "are")} missing. Set CertificatePath, KeyPath and CaPath for mutual TLS, or none of them.");
            return;
        }

        var files = TlsMaterialLoader.Read(tls, key, errors);
        if (files is not null)
        {
            TlsMaterialLoader.Load(tls, key, files, now, errors)?.Dispose();
        }
    }

    // AddSecureMesh registers authentication only when it saw Mesh:Tls (or could not tell); see AddAuthenticationForTls.
    private void ValidateAuthenticationRegistered(TlsOptions tls, string key, List<string> errors)
    {
        if (tls.IsConfigured
            && services.GetService<IServiceProviderIsService>() is { } registered
            && !registered.IsService(typeof(IAuthenticationSchemeProvider)))
        {
            errors.Add($"{key} is set, but it was not in the configuration when AddSecureMesh() ran, so the MeshCertificate "
                + "authentication scheme could not be registered. Add the configuration before calling AddSecureMesh(), or call "
                + "AddAuthentication() as well.");
        }
    }

    private static void ValidateAuthorization(SecureMeshOptions options, string root, List<string> errors)
    {
        var key = $"{root}:Authorization";
        var authorization = options.Authorization;
        ValidateCallers(authorization.AllowedCallers, $"{key}:AllowedCallers", errors);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < authorization.Methods.Count; i++)
        {
            var entry = $"{key}:Methods:{i.ToString(CultureInfo.InvariantCulture)}";
            if (authorization.Methods[i] is not { } rule)
            {
                errors.Add($"{entry} must be an object with Method and AllowedCallers.");
                continue;
            }

            if (!MethodRules.IsMethodPattern(rule.Method))
            {
                errors.Add($"{entry}:Method must be 'package.Service/Method' or 'package.Service/*' (was '{rule.Method}').");
            }
            else if (!seen.TryAdd(rule.Method, i))
            {
                errors.Add($"{entry}:Method '{rule.Method}' is already listed at {key}:Methods:{seen[rule.Method]}.");
            }

            ValidateCallers(rule.AllowedCallers, $"{entry}:AllowedCallers", errors);
        }

        if (authorization.IsRestricted && !options.Tls.IsConfigured)
        {
            errors.Add($"{key} needs {root}:Tls: without mesh certificates a caller's service id is only what its x-mesh-service-id header claims.");
        }
    }

    private static void ValidateCallers(IList<string> callers, string key, List<string> errors)
    {
        for (var i = 0; i < callers.Count; i++)
        {
            var caller = callers[i];
            if (string.IsNullOrWhiteSpace(caller) || !caller.All(static c => c is > ' ' and < (char)0x7F))
            {
                errors.Add($"{key}:{i.ToString(CultureInfo.InvariantCulture)} must be a service id: printable ASCII without spaces (was '{caller}').");
            }
        }
    }
}
