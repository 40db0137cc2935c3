using Mesh.AspNetCore.RateLimiting.Internal;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

public static partial class MeshServiceCollectionExtensions
{
    private static void AddRateLimiting(IServiceCollection services)
    {
        services.TryAddSingleton<MeshMetrics>();
        services.TryAddSingleton<MeshRateLimiter>();
        services.TryAddSingleton<MemoryRateLimitStore>();
        services.TryAddSingleton<RedisConnection>();
        services.TryAddSingleton<RateLimitStoreMetrics>();
        services.TryAddSingleton<RedisRateLimitStore>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, RedisStoreWarmup>());
        services.TryAddSingleton<InboundRateLimitGate>();

        // The decision itself: routing selects, in place of each limited endpoint, a stand-in that decides before the
        // endpoint runs; in a WebApplication's pipeline, a middleware before the endpoint middleware decides first.
        services.TryAddSingleton<RateLimitRejectionWriter>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<MatcherPolicy, RateLimitMatcherPolicy>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStartupFilter, RateLimitStartupFilter>());
    }
}
