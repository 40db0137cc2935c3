using System.Globalization;
using System.Net;

namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>
/// The rules for the endpoints of one discovery entry and for <c>Mesh:Resilience:OutlierDetection</c>, used by the
/// options validator. Each message starts with the full key it is about.
/// </summary>
internal static class DiscoveryEntryValidation
{
    /// <summary>Either <c>Host</c> + <c>Port</c> (with or without <c>Dns</c>) or <c>Endpoints</c>, never both, never neither.</summary>
    public static void ValidateEndpoints(ServiceEndpoint service, string entry, List<string> errors)
    {
        var hasHost = !string.IsNullOrEmpty(service.Host);
        if (service.Endpoints is { } endpoints)
        {
            if (hasHost || service.Port != 0)
            {
                errors.Add($"{entry} sets both Host/Port and Endpoints: use {entry}:Host and {entry}:Port for one endpoint, or {entry}:Endpoints for several, not both.");
            }

            if (service.Dns)
            {
                errors.Add($"{entry}:Dns resolves {entry}:Host to its addresses and cannot be combined with {entry}:Endpoints.");
            }

            if (endpoints.Count == 0)
            {
                errors.Add($"{entry}:Endpoints must list at least one endpoint ({{ \"Host\": ..., \"Port\": ... }}).");
            }

            var seen = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
            for (var i = 0; i < endpoints.Count; i++)
            {
                var key = $"{entry}:Endpoints:{i.ToString(CultureInfo.InvariantCulture)}";
                if (endpoints[i] is not { } endpoint)
                {
                    errors.Add($"{key} must be an object with Host and Port.");
                    continue;
                }

                var hostOk = ValidateHost(endpoint.Host, $"{key}:Host", errors);
                var portOk = ValidatePort(endpoint.Port, $"{key}:Port", errors);
                if (hostOk && portOk && !seen.TryAdd(string.Create(CultureInfo.InvariantCulture, $"{endpoint.Host}:{endpoint.Port}"), i))
                {
                    errors.Add(string.Create(CultureInfo.InvariantCulture,
                        $"{key} repeats {endpoint.Host}:{endpoint.Port}, already listed at {entry}:Endpoints:{seen[$"{endpoint.Host}:{endpoint.Port}"]}."));
                }
            }

            return;
        }

        if (!hasHost && service.Port == 0)
        {
            errors.Add($"{entry} needs an endpoint: set {entry}:Host and {entry}:Port, or {entry}:Endpoints.");
            return;
        }

        ValidateHost(service.Host, $"{entry}:Host", errors);
        ValidatePort(service.Port, $"{entry}:Port", errors);
    }

    public static void ValidateOutlierDetection(OutlierDetectionOptions options, string key, List<string> errors)
    {
        Range(options.ConsecutiveFailures, 1, OutlierDetectionConstants.MaxConsecutiveFailures, $"{key}:ConsecutiveFailures", errors);
        Range(options.BaseEjectionTime, 1, OutlierDetectionConstants.MaxBaseEjectionTimeMs, $"{key}:BaseEjectionTime", errors);
        Range(options.MaxEjectionPercent, 0, 100, $"{key}:MaxEjectionPercent", errors);
    }

    private static bool ValidateHost(string? host, string key, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(host) || Uri.CheckHostName(host) == UriHostNameType.Unknown)
        {
            errors.Add($"{key} must be a host name or IP address (was '{host}').");
            return false;
        }

        return true;
    }

    private static bool ValidatePort(int port, string key, List<string> errors) => Range(port, 1, IPEndPoint.MaxPort, key, errors);

    private static bool Range(int value, int min, int max, string key, List<string> errors)
    {
        if (value >= min && value <= max)
        {
            return true;
        }

        errors.Add(string.Create(CultureInfo.InvariantCulture, $"{key} must be between {min} and {max} (was {value})."));
        return false;
    }
}
