using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Polly;

namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>
/// Registers the call pipeline of one target service in Polly's pipeline registry: retry (outer) wrapping the
/// service's circuit breaker (inner). The registry rebuilds it when <see cref="SecureMeshOptions"/> reload; the
/// breaker's state lives in <see cref="CircuitBreakerRegistry"/> and survives the rebuild.
/// </summary>
internal static class MeshResiliencePipelines
{
    public static void Add(IServiceCollection services, string serviceId) =>
        services.AddResiliencePipeline(new MeshPipelineKey(serviceId), static (builder, context) =>
        {
            var provider = context.ServiceProvider;
            var timeProvider = provider.GetRequiredService<TimeProvider>();
            builder.TimeProvider = timeProvider;
            context.EnableReloads<SecureMeshOptions>();

            var serviceId = context.PipelineKey.ServiceId;
            var resilience = provider.GetRequiredService<IOptionsMonitor<SecureMeshOptions>>().CurrentValue.Resilience;
            if (resilience.Retry.Enabled && resilience.Retry.MaxAttempts > 0)
            {
                var retry = new MeshRetry(resilience.Retry, serviceId, provider.GetRequiredService<MeshMetrics>(), timeProvider);
                builder.AddRetry(retry.StrategyOptions);
            }

            if (resilience.CircuitBreaker.Enabled)
            {
                var breaker = provider.GetRequiredService<CircuitBreakerRegistry>().Get(serviceId);
                builder.AddMeshCircuitBreaker(new MeshCircuitBreakerStrategyOptions(breaker, new CircuitBreakerSettings(resilience.CircuitBreaker)));
            }
        });

    public static ResiliencePipeline Get(IServiceProvider services, string serviceId) =>
        services.GetRequiredService<Polly.Registry.ResiliencePipelineProvider<MeshPipelineKey>>().GetPipeline(new MeshPipelineKey(serviceId));
}
