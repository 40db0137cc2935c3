using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Grpc.Core;
using Polly;
using Polly.Telemetry;

namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>Options of <see cref="MeshCircuitBreakerStrategy"/>: the service's breaker and the current settings.</summary>
internal sealed class MeshCircuitBreakerStrategyOptions : ResilienceStrategyOptions
{
    public MeshCircuitBreakerStrategyOptions(ServiceCircuitBreaker breaker, CircuitBreakerSettings settings)
    {
        Name = "MeshCircuitBreaker";
        Breaker = breaker;
        Settings = settings;
    }

    public ServiceCircuitBreaker Breaker { get; }

    public CircuitBreakerSettings Settings { get; }
}

/// <summary>Arguments of the Polly telemetry events of the mesh circuit breaker.</summary>
internal readonly record struct MeshCircuitEventArguments(string ServiceId, CircuitState From, CircuitState To);

/// <summary>
/// A consecutive-count circuit breaker with a success threshold, as a Polly strategy. Polly's own breaker counts a
/// failure ratio over a sampling window and closes on the first successful trial, which is not the mesh's semantics.
/// Every attempt that reaches this strategy is admitted or rejected by the target service's
/// <see cref="ServiceCircuitBreaker"/>; a rejection is returned as an outcome (the <see cref="RpcException"/> the caller
/// gets, also kept in the context under <see cref="RejectionKey"/> so that retries end on it) without calling the next
/// step, so no network traffic happens.
/// </summary>
internal sealed class MeshCircuitBreakerStrategy(
    MeshCircuitBreakerStrategyOptions options, ResilienceStrategyTelemetry telemetry, TimeProvider timeProvider)
    : ResilienceStrategy
{
    /// <summary>The rejection of the current attempt, when the breaker rejected it.</summary>
    public static readonly ResiliencePropertyKey<RpcException> RejectionKey = new("Mesh.CircuitRejection");

    // One per rejected call while the breaker is open: Debug, so that an open breaker under load does not flood the
    // logs; the opening itself is logged as a warning.
    private static readonly ResilienceEvent Rejected = new(ResilienceEventSeverity.Debug, "OnMeshCircuitRejected");
    private static readonly ResilienceEvent Opened = new(ResilienceEventSeverity.Error, "OnMeshCircuitOpened");
    private static readonly ResilienceEvent HalfOpened = new(ResilienceEventSeverity.Warning, "OnMeshCircuitHalfOpened");
    private static readonly ResilienceEvent Closed = new(ResilienceEventSeverity.Information, "OnMeshCircuitClosed");

    private readonly ServiceCircuitBreaker _breaker = options.Breaker;
    private readonly CircuitBreakerSettings _settings = options.Settings;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    protected override async ValueTask<Outcome<TResult>> ExecuteCore<TResult, TState>(
        Func<ResilienceContext, TState, ValueTask<Outcome<TResult>>> callback, ResilienceContext context, TState state)
    {
        if (!_breaker.TryEnter(timeProvider, _settings, out var ticket, out var retryAfter, out var transition))
        {
            var rejection = _breaker.CreateRejection(retryAfter, _settings.SuccessThreshold);
            context.Properties.Set(RejectionKey, rejection);
            telemetry.Report(Rejected, context, new MeshCircuitEventArguments(_breaker.ServiceId, CircuitState.Open, CircuitState.Open));
            return Outcome.FromException<TResult>(rejection);
        }

        Report(transition, context);
        var outcome = await callback(context, state).ConfigureAwait(context.ContinueOnCapturedContext);
        var result = Classify(outcome.Exception, context, _settings, out var status);
        Report(_breaker.Complete(timeProvider, ticket, result, status, _settings), context);
        return outcome;
    }

    internal static AttemptResult Classify(Exception? exception, ResilienceContext context, CircuitBreakerSettings settings, out StatusCode status)
    {
        switch (exception)
        {
            case null:
                status = StatusCode.OK;
                return AttemptResult.Success;
            case RpcException rpc:
                status = rpc.StatusCode;
                if (status == StatusCode.Cancelled && context.CancellationToken.IsCancellationRequested)
                {
                    return AttemptResult.Neutral;
                }

                return settings.IsFailure(status) ? AttemptResult.Failure
                    : status == StatusCode.Cancelled ? AttemptResult.Neutral
                    : AttemptResult.Success;
            default:
                // The caller's cancellation, or a client-side error (such as serialization) that says nothing about the service.
                status = StatusCode.Cancelled;
                return AttemptResult.Neutral;
        }
    }

    private void Report(CircuitTransition transition, ResilienceContext context)
    {
        if (!transition.HasValue)
        {
            return;
        }

        var resilienceEvent = transition.To switch
        {
            CircuitState.Open => Opened,
            CircuitState.HalfOpen => HalfOpened,
            _ => Closed,
        };
        telemetry.Report(resilienceEvent, context, new MeshCircuitEventArguments(_breaker.ServiceId, transition.From, transition.To));
    }
}

/// <summary>Adds the mesh circuit breaker to a Polly pipeline.</summary>
internal static class MeshCircuitBreakerResiliencePipelineBuilderExtensions
{
    // Polly validates the options through data annotations; the dependency keeps the members it reads when trimmed.
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "All options members preserved.")]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(MeshCircuitBreakerStrategyOptions))]
    public static ResiliencePipelineBuilder AddMeshCircuitBreaker(this ResiliencePipelineBuilder builder, MeshCircuitBreakerStrategyOptions options) =>
        builder.AddStrategy(context => new MeshCircuitBreakerStrategy(options, context.Telemetry, context.TimeProvider), options);
}
