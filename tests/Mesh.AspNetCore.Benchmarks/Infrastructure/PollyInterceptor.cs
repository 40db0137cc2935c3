using Grpc.Core;
using Grpc.Core.Interceptors;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;

namespace Mesh.AspNetCore.Benchmarks.Infrastructure;

/// <summary>
/// What an application would write by hand without the mesh: Polly's own retry and circuit breaker, configured like the
/// mesh's defaults (3 retries, exponential from 1 s, on UNAVAILABLE / RESOURCE_EXHAUSTED / ABORTED; a breaker on
/// unhealthy statuses), run around each unary call by a client interceptor.
/// </summary>
internal sealed class PollyInterceptor(ResiliencePipeline pipeline) : Interceptor
{
    // A hand-written interceptor would not report headers or trailers of the attempts; kept out of the measurement.
    private static readonly Task<Metadata> s_headers = Task.FromResult(new Metadata());

    public static ResiliencePipeline BuildPipeline() => new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<RpcException>(static e =>
                e.StatusCode is StatusCode.Unavailable or StatusCode.ResourceExhausted or StatusCode.Aborted),
            MaxRetryAttempts = 3,
            Delay = TimeSpan.FromSeconds(1),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = false,
        })
        .AddCircuitBreaker(new CircuitBreakerStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<RpcException>(static e =>
                e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal or StatusCode.Unknown or StatusCode.DataLoss),
            FailureRatio = 1.0,
            MinimumThroughput = 5,
            BreakDuration = TimeSpan.FromSeconds(60),
        })
        .Build();

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        var response = pipeline.ExecuteAsync(
            static async (state, _) => await state.continuation(state.request, state.context).ResponseAsync.ConfigureAwait(false),
            (request, context, continuation),
            context.Options.CancellationToken).AsTask();
        return new AsyncUnaryCall<TResponse>(
            response,
            s_headers,
            static () => Status.DefaultSuccess,
            static () => [],
            static () => { });
    }
}
