using Mesh.AspNetCore.Configuration.Internal;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>
/// Fails startup (and rejects a reload) when a client is registered for a service id that discovery does not list.
/// </summary>
internal sealed class MeshClientDiscoveryValidator(
    IEnumerable<MeshClientRegistration> registrations,
    IEnumerable<MeshConfigurationSource> sources,
    IServiceProvider services) : IValidateOptions<SecureMeshOptions>
{
    public ValidateOptionsResult Validate(string? name, SecureMeshOptions options)
    {
        List<string>? errors = null;
        foreach (var registration in registrations)
        {
            if (!options.Discovery.Services.Any(s => string.Equals(s?.Id, registration.ServiceId, StringComparison.OrdinalIgnoreCase)))
            {
                var root = SecureMeshOptions.SectionName;
                foreach (var source in sources)
                {
                    root = MeshConfigurationSource.PathOf(source.Resolve(services));
                }

                errors ??= [];
                errors.Add($"{root}:Discovery:Services has no service '{registration.ServiceId}', for which " +
                    $"AddClient<{registration.ClientName}> registered a client.");
            }
        }

        return errors is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
