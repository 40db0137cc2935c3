using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>Validates the choice of store and <c>Mesh:Redis</c>; each message names the full key.</summary>
internal static class RedisStoreValidation
{
    public static void Validate(SecureMeshOptions options, string root, IServiceProvider services, List<string> errors)
    {
        var limit = options.Resilience.RateLimit;
        var limitKey = $"{root}:Resilience:RateLimit";
        var redisKey = $"{root}:Redis";
        if (!Enum.IsDefined(limit.Store))
        {
            errors.Add($"{limitKey}:Store must be 'Memory' or 'Redis' (was '{limit.Store}').");
        }

        if (!Enum.IsDefined(limit.OnStoreFailure))
        {
            errors.Add($"{limitKey}:OnStoreFailure must be 'Local', 'Allow' or 'Reject' (was '{limit.OnStoreFailure}').");
        }

        var redis = options.Redis ?? new RedisOptions();
        if (redis.TimeoutMs is < 1 or > RedisStoreConstants.MaxTimeoutMs)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{redisKey}:TimeoutMs must be between 1 and {RedisStoreConstants.MaxTimeoutMs} (was {redis.TimeoutMs})."));
        }

        if (redis.KeyPrefix is null || redis.KeyPrefix.Length > RedisStoreConstants.MaxKeyPrefixLength)
        {
            errors.Add($"{redisKey}:KeyPrefix must be at most {RedisStoreConstants.MaxKeyPrefixLength} characters; remove the key for the default 'mesh:'.");
        }

        if (redis.Configuration is { } configuration)
        {
            ValidateConfiguration(configuration, $"{redisKey}:Configuration", errors);
        }
        else if (limit.Store == RateLimitStore.Redis && !IsRegistered(services))
        {
            errors.Add($"{redisKey}:Configuration is required when {limitKey}:Store is 'Redis' and the application registers no IConnectionMultiplexer (for example \"redis.internal:6379,password=...\").");
        }
    }

    private static void ValidateConfiguration(string configuration, string key, List<string> errors)
    {
        ConfigurationOptions parsed;
        try
        {
            parsed = ConfigurationOptions.Parse(configuration);
        }
        catch (ArgumentException ex)
        {
            errors.Add($"{key} is not a StackExchange.Redis configuration string: {ex.Message}");
            return;
        }

        if (parsed.EndPoints.Count == 0)
        {
            errors.Add($"{key} must name at least one host:port of the store (was '{configuration}').");
        }
    }

    private static bool IsRegistered(IServiceProvider services) =>
        services.GetService<IServiceProviderIsService>()?.IsService(typeof(IConnectionMultiplexer)) == true;
}
