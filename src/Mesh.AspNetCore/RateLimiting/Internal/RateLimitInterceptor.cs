using System.Globalization;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>
/// Applies the inbound rate limit to every call of every gRPC service, before the handler runs. A rejected call ends
/// with <see cref="StatusCode.ResourceExhausted"/> and the trailers <c>retry-after</c> and
/// <c>grpc-retry-pushback-ms</c>. The standard health service is exempt.
/// </summary>
internal sealed class RateLimitInterceptor(InboundRateLimitGate gate) : Interceptor
{
    // A rejection decided synchronously is thrown rather than returned as a faulted task: grpc-dotnet then rethrows it
    // one time less, which saves about 0.5 KB per rejected call (ServerRateLimitBenchmarks, raw HTTP/2 rows).
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var pending = Admit(context);
        if (!pending.IsCompletedSuccessfully)
        {
            return ContinueAsync(pending, () => continuation(request, context));
        }

        var decision = pending.Result;
        return decision.IsAdmitted ? continuation(request, context) : throw Rejection(decision.RetryAfter);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var pending = Admit(context);
        if (!pending.IsCompletedSuccessfully)
        {
            return ContinueAsync(pending, () => continuation(requestStream, context));
        }

        var decision = pending.Result;
        return decision.IsAdmitted ? continuation(requestStream, context) : throw Rejection(decision.RetryAfter);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var pending = Admit(context);
        if (!pending.IsCompletedSuccessfully)
        {
            return ContinueAsync(pending, () => continuation(request, responseStream, context));
        }

        var decision = pending.Result;
        return decision.IsAdmitted ? continuation(request, responseStream, context) : throw Rejection(decision.RetryAfter);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var pending = Admit(context);
        if (!pending.IsCompletedSuccessfully)
        {
            return ContinueAsync(pending, () => continuation(requestStream, responseStream, context));
        }

        var decision = pending.Result;
        return decision.IsAdmitted ? continuation(requestStream, responseStream, context) : throw Rejection(decision.RetryAfter);
    }

    private ValueTask<RateLimitDecision> Admit(ServerCallContext context) =>
        context.Method.StartsWith(RateLimitConstants.HealthServicePrefix, StringComparison.Ordinal)
            ? new(RateLimitDecision.Admitted)
            : gate.AdmitAsync(context.GetHttpContext(), RateLimitConstants.GrpcTransport);

    private static async Task<TResponse> ContinueAsync<TResponse>(ValueTask<RateLimitDecision> pending, Func<Task<TResponse>> next)
    {
        var decision = await pending.ConfigureAwait(false);
        if (!decision.IsAdmitted)
        {
            throw Rejection(decision.RetryAfter);
        }

        return await next().ConfigureAwait(false);
    }

    private static async Task ContinueAsync(ValueTask<RateLimitDecision> pending, Func<Task> next)
    {
        var decision = await pending.ConfigureAwait(false);
        if (!decision.IsAdmitted)
        {
            throw Rejection(decision.RetryAfter);
        }

        await next().ConfigureAwait(false);
    }

    private static RpcException Rejection(TimeSpan retryAfter)
    {
        var seconds = InboundRateLimitGate.ToRetryAfterSeconds(retryAfter);
        var trailers = new Metadata
        {
            { RateLimitConstants.RetryAfterTrailer, seconds.ToString(CultureInfo.InvariantCulture) },
            { RateLimitConstants.RetryPushbackTrailer, InboundRateLimitGate.ToPushbackMilliseconds(retryAfter).ToString(CultureInfo.InvariantCulture) },
        };
        return new RpcException(new Status(StatusCode.ResourceExhausted, InboundRateLimitGate.RejectionMessage(seconds)), trailers);
    }
}
