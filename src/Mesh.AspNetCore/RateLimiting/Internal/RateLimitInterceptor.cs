using System.Globalization;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>
/// Applies the inbound rate limit to every call of every gRPC service, before the handler runs. A rejected call ends
/// with <see cref="StatusCode.ResourceExhausted"/> and the trailers <c>retry-after</c>,
/// <c>grpc-retry-pushback-ms</c> and <c>x-mesh-rejected: rate-limit</c>. The standard health service is exempt.
/// </summary>
internal sealed class RateLimitInterceptor(InboundRateLimitGate gate) : Interceptor
{
    // A rejection is thrown rather than returned as a faulted task: grpc-dotnet then rethrows it one time less, which
    // saves about 0.5 KB per rejected call (ServerRateLimitBenchmarks, raw HTTP/2 rows).
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation) =>
        TryAdmit(context, out var rejection) ? continuation(request, context) : throw rejection;

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        TryAdmit(context, out var rejection) ? continuation(requestStream, context) : throw rejection;

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        TryAdmit(context, out var rejection) ? continuation(request, responseStream, context) : throw rejection;

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        TryAdmit(context, out var rejection) ? continuation(requestStream, responseStream, context) : throw rejection;

    private bool TryAdmit(ServerCallContext context, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out RpcException? rejection)
    {
        if (context.Method.StartsWith(RateLimitConstants.HealthServicePrefix, StringComparison.Ordinal)
            || gate.TryAdmit(context.GetHttpContext(), RateLimitConstants.GrpcTransport, out var retryAfter))
        {
            rejection = null;
            return true;
        }

        var seconds = InboundRateLimitGate.ToRetryAfterSeconds(retryAfter);
        var trailers = new Metadata
        {
            { RateLimitConstants.RetryAfterTrailer, seconds.ToString(CultureInfo.InvariantCulture) },
            { RateLimitConstants.RetryPushbackTrailer, InboundRateLimitGate.ToPushbackMilliseconds(retryAfter).ToString(CultureInfo.InvariantCulture) },
            { RateLimitConstants.RejectedByHeader, RateLimitConstants.RateLimitRejection },
        };
        rejection = new RpcException(new Status(StatusCode.ResourceExhausted, InboundRateLimitGate.RejectionMessage(seconds)), trailers);
        return false;
    }
}
