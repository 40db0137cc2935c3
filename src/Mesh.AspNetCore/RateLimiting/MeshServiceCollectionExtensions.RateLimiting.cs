using Grpc.AspNetCore.Server;
using Mesh.AspNetCore.RateLimiting.Internal;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

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

        // A DI singleton: grpc-dotnet then reuses it instead of activating an interceptor per call.
        services.TryAddSingleton<RateLimitInterceptor>();
        services.TryAddSingleton<RateLimitEndpointFilter>();

        // The decision itself: a middleware at the end of the application's pipeline, before any endpoint runs.
        services.TryAddSingleton<RateLimitRejectionWriter>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStartupFilter, RateLimitStartupFilter>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<GrpcServiceOptions>, AddRateLimitInterceptor>());
    }
}
