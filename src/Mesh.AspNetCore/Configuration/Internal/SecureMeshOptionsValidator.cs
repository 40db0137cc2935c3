using System.Globalization;
using System.Net;
using Grpc.Core;
using Mesh.AspNetCore.Discovery.Internal;
using Mesh.AspNetCore.RateLimiting.Internal;
using Mesh.AspNetCore.Resilience.Internal;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Configuration.Internal;

/// <summary>
/// Validates <see cref="SecureMeshOptions"/> at startup and on every reload. Each message starts with the full
/// configuration key it is about, such as <c>Mesh:Resilience:RateLimit:MaxRequests</c>.
/// </summary>
internal sealed class SecureMeshOptionsValidator(IEnumerable<MeshConfigurationSource> sources, IServiceProvider services)
    : IValidateOptions<SecureMeshOptions>
{
    internal const int MaxServiceIdLength = 256;

    public ValidateOptionsResult Validate(string? name, SecureMeshOptions options)
    {
        var errors = new List<string>();
        var root = SecureMeshOptions.SectionName;
        foreach (var source in sources)
        {
            var configuration = source.Resolve(services);
            root = MeshConfigurationSource.PathOf(configuration);
            UnknownKeys.Collect(configuration, typeof(SecureMeshOptions), root, errors);
        }

        ValidateValues(options, root, errors);
        RedisStoreValidation.Validate(options, root, services, errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    internal static void ValidateValues(SecureMeshOptions options, string root, List<string> errors)
    {
        ValidateServiceId(options.ServiceId, $"{root}:ServiceId", errors);
        if (options.Port is { } port)
        {
            Range(port, 1, IPEndPoint.MaxPort, $"{root}:Port", errors);
        }

        if (!IsListenAddress(options.ListenAddress))
        {
            errors.Add($"{root}:ListenAddress must be 'localhost', '*' or an IP address (was '{options.ListenAddress}').");
        }

        var resilience = $"{root}:Resilience";
        ValidateRateLimit(options.Resilience.RateLimit, $"{resilience}:RateLimit", errors);
        ValidateCircuitBreaker(options.Resilience.CircuitBreaker, $"{resilience}:CircuitBreaker", errors);
        ValidateRetry(options.Resilience.Retry, $"{resilience}:Retry", errors);
        DiscoveryEntryValidation.ValidateOutlierDetection(options.Resilience.OutlierDetection, $"{resilience}:OutlierDetection", errors);
        ValidateDiscovery(options.Discovery, $"{root}:Discovery", errors);
    }

    private static void ValidateServiceId(string? serviceId, string key, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(serviceId))
        {
            errors.Add($"{key} is required: it identifies this service to the services it calls.");
            return;
        }

        if (serviceId.Length > MaxServiceIdLength)
        {
            errors.Add($"{key} must be at most {MaxServiceIdLength} characters (was {serviceId.Length}).");
        }

        if (!serviceId.All(c => c is > ' ' and < (char)0x7F))
        {
            errors.Add($"{key} must contain only printable ASCII characters without spaces, as it is sent in the x-mesh-service-id header (was '{serviceId}').");
        }
    }

    private static void ValidateRateLimit(RateLimitOptions rateLimit, string key, List<string> errors)
    {
        if (rateLimit.MaxRequests is { } maxRequests)
        {
            Range(maxRequests, 1, int.MaxValue, $"{key}:MaxRequests", errors);
        }
        else if (rateLimit.Enabled == true)
        {
            errors.Add($"{key}:MaxRequests is required when {key}:Enabled is true.");
        }

        Range(rateLimit.WindowMs, 1, RateLimitConstants.MaxWindowMs, $"{key}:WindowMs", errors);
        if (!Enum.IsDefined(rateLimit.PartitionBy))
        {
            errors.Add($"{key}:PartitionBy must be 'Caller' or 'Global' (was '{rateLimit.PartitionBy}').");
        }
    }

    private static void ValidateCircuitBreaker(CircuitBreakerOptions breaker, string key, List<string> errors)
    {
        Range(breaker.FailureThreshold, 1, CircuitBreakerConstants.MaxThreshold, $"{key}:FailureThreshold", errors);
        Range(breaker.SuccessThreshold, 1, CircuitBreakerConstants.MaxThreshold, $"{key}:SuccessThreshold", errors);
        Range(breaker.Timeout, 1, CircuitBreakerConstants.MaxTimeoutMs, $"{key}:Timeout", errors);
        ValidateStatusCodes(breaker.FailureStatusCodes, $"{key}:FailureStatusCodes", errors);
    }

    private static void ValidateRetry(RetryOptions retry, string key, List<string> errors)
    {
        Range(retry.MaxAttempts, 0, RetryConstants.MaxMaxAttempts, $"{key}:MaxAttempts", errors);
        var initialOk = Range(retry.InitialDelay, 1, RetryConstants.MaxDelayMs, $"{key}:InitialDelay", errors);
        var maxOk = Range(retry.MaxDelay, 1, RetryConstants.MaxDelayMs, $"{key}:MaxDelay", errors);
        if (initialOk && maxOk && retry.InitialDelay > retry.MaxDelay)
        {
            errors.Add($"{key}:InitialDelay must not exceed {key}:MaxDelay ({retry.InitialDelay} > {retry.MaxDelay}).");
        }

        ValidateStatusCodes(retry.RetryableStatusCodes, $"{key}:RetryableStatusCodes", errors);
        ValidateIdempotentMethods(retry.IdempotentMethods, $"{key}:IdempotentMethods", errors);
        ValidateRetryBudget(retry.Budget, $"{key}:Budget", errors);
    }

    private static void ValidateIdempotentMethods(IList<string>? methods, string key, List<string> errors)
    {
        for (var i = 0; methods is not null && i < methods.Count; i++)
        {
            if (!IdempotencyPolicy.TryParse(methods[i], out _, out _))
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{key}:{i} must be 'package.Service/Method' or 'package.Service/*' (was '{methods[i]}')."));
            }
        }
    }

    private static void ValidateRetryBudget(RetryBudgetOptions budget, string key, List<string> errors)
    {
        if (!(budget.RetryRatio >= 0 && budget.RetryRatio <= RetryBudgetConstants.MaxRetryRatio))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture,
                $"{key}:RetryRatio must be between 0 and {RetryBudgetConstants.MaxRetryRatio} (was {budget.RetryRatio})."));
        }

        Range(budget.MinRetriesPerSecond, 0, RetryBudgetConstants.MaxMinRetriesPerSecond, $"{key}:MinRetriesPerSecond", errors);
        Range(budget.WindowMs, RetryBudgetConstants.MinWindowMs, RetryBudgetConstants.MaxWindowMs, $"{key}:WindowMs", errors);
    }

    private static void ValidateStatusCodes(IList<StatusCode>? codes, string key, List<string> errors)
    {
        if (codes is null)
        {
            return;
        }

        if (codes.Count == 0)
        {
            errors.Add($"{key} must name at least one gRPC status; remove the key to use the defaults.");
        }

        for (var i = 0; i < codes.Count; i++)
        {
            if (codes[i] == StatusCode.OK || !Enum.IsDefined(codes[i]))
            {
                errors.Add($"{key}:{i} must be a gRPC error status such as 'Unavailable' (was '{codes[i]}').");
            }
        }
    }

    private static void ValidateDiscovery(DiscoveryOptions discovery, string key, List<string> errors)
    {
        var seen = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < discovery.Services.Count; i++)
        {
            var service = discovery.Services[i];
            var entry = $"{key}:Services:{i.ToString(CultureInfo.InvariantCulture)}";
            if (service is null)
            {
                errors.Add($"{entry} must be an object with Id, and Host and Port or Endpoints.");
                continue;
            }

            if (string.IsNullOrWhiteSpace(service.Id))
            {
                errors.Add($"{entry}:Id is required.");
            }
            else if (!seen.TryAdd(service.Id, i))
            {
                errors.Add($"{entry}:Id '{service.Id}' is already listed at {key}:Services:{seen[service.Id]}; service ids must be unique.");
            }

            DiscoveryEntryValidation.ValidateEndpoints(service, entry, errors);
        }
    }

    private static bool IsListenAddress(string? address) =>
        address is "localhost" or "*" || IPAddress.TryParse(address, out _);

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
