using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Telemetry;

namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>
/// Registers the call pipeline of one target service in Polly's pipeline registry: retry (outer) wrapping the
/// service's circuit breaker (inner). The registry rebuilds it when <see cref="SecureMeshOptions"/> reload; the
/// breaker's state lives in <see cref="CircuitBreakerRegistry"/> and survives the rebuild.
/// </summary>
internal static class MeshResiliencePipelines
{
    // Every event of the mesh's pipelines has a line of the mesh's own (a retried attempt, a failed call, a breaker
    // transition), so Polly's line for it, with the attempt's exception and its stack trace, would only repeat it.
    private static readonly Func<SeverityProviderArguments, ResilienceEventSeverity> s_severity = static args =>
        args.Event.Severity > ResilienceEventSeverity.Debug ? ResilienceEventSeverity.Debug : args.Event.Severity;

    public static void Add(IServiceCollection services, string serviceId) =>
        services.AddResiliencePipeline(new MeshPipelineKey(serviceId), static (builder, context) =>
        {
            var provider = context.ServiceProvider;
            var timeProvider = provider.GetRequiredService<TimeProvider>();
            builder.TimeProvider = timeProvider;
            ConfigureTelemetry(builder, provider.GetRequiredService<IOptions<TelemetryOptions>>().Value);
            context.EnableReloads<SecureMeshOptions>();

            var serviceId = context.PipelineKey.ServiceId;
            var resilience = provider.GetRequiredService<IOptionsMonitor<SecureMeshOptions>>().CurrentValue.Resilience;
            if (resilience.Retry.Enabled && resilience.Retry.MaxAttempts > 0)
            {
                var budgets = provider.GetRequiredService<RetryBudgetRegistry>();
                budgets.Get(serviceId).Configure(resilience.Retry);
                var onlyIdempotent = resilience.Retry.OnlyIdempotent
                    ? new IdempotencyPolicy(provider.GetRequiredService<DeclaredIdempotency>(), resilience.Retry.IdempotentMethods)
                    : null;
                var breaker = resilience.CircuitBreaker.Enabled ? provider.GetRequiredService<CircuitBreakerRegistry>().Get(serviceId) : null;
                var retry = new MeshRetry(
                    resilience.Retry, serviceId, provider.GetRequiredService<MeshMetrics>(), timeProvider, onlyIdempotent, budgets, breaker,
                    logger: provider.GetRequiredService<ILogger<ResilienceInterceptor>>())
                {
                    Stopped = provider.GetRequiredService<MeshClientLifetime>().Stopped,
                };
                builder.AddRetry(retry.StrategyOptions);
            }

            if (resilience.CircuitBreaker.Enabled)
            {
                var breaker = provider.GetRequiredService<CircuitBreakerRegistry>().Get(serviceId);
                builder.AddMeshCircuitBreaker(new MeshCircuitBreakerStrategyOptions(breaker, new CircuitBreakerSettings(resilience.CircuitBreaker)));
            }
        });

    /// <summary>
    /// Polly's telemetry as the application configured it, except that its events are at most Debug, unless the
    /// application set its own severity provider. At Information (the level of the ASP.NET Core templates) Polly would
    /// log two lines for each call, and two warnings with the exception's stack trace for each retried attempt; the
    /// mesh logs retried attempts and failed calls itself (<c>CallAttemptFailed</c>, <c>CallFailed</c>). The events still
    /// reach Polly's meter (with that severity tag).
    /// </summary>
    private static void ConfigureTelemetry(ResiliencePipelineBuilder builder, TelemetryOptions shared)
    {
        if (shared.SeverityProvider is not null)
        {
            return;
        }

        builder.ConfigureTelemetry(new TelemetryOptions(shared) { SeverityProvider = s_severity });
    }

    public static ResiliencePipeline Get(IServiceProvider services, string serviceId) =>
        services.GetRequiredService<Polly.Registry.ResiliencePipelineProvider<MeshPipelineKey>>().GetPipeline(new MeshPipelineKey(serviceId));
}
