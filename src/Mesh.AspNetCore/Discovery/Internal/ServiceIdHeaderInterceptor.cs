using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>Adds <c>x-mesh-service-id: &lt;Mesh:ServiceId&gt;</c> to every outgoing call.</summary>
internal sealed class ServiceIdHeaderInterceptor(IOptionsMonitor<SecureMeshOptions> options) : Interceptor
{
    public const string HeaderName = "x-mesh-service-id";

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, BlockingUnaryCallContinuation<TRequest, TResponse> continuation) =>
        continuation(request, WithHeader(context));

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation) =>
        continuation(request, WithHeader(context));

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncServerStreamingCallContinuation<TRequest, TResponse> continuation) =>
        continuation(request, WithHeader(context));

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(
        ClientInterceptorContext<TRequest, TResponse> context, AsyncClientStreamingCallContinuation<TRequest, TResponse> continuation) =>
        continuation(WithHeader(context));

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(
        ClientInterceptorContext<TRequest, TResponse> context, AsyncDuplexStreamingCallContinuation<TRequest, TResponse> continuation) =>
        continuation(WithHeader(context));

    private ClientInterceptorContext<TRequest, TResponse> WithHeader<TRequest, TResponse>(ClientInterceptorContext<TRequest, TResponse> context)
        where TRequest : class
        where TResponse : class
    {
        // The caller's Metadata may be reused for other calls, so it is copied rather than changed.
        var headers = new Metadata();
        if (context.Options.Headers is { } callerHeaders)
        {
            foreach (var entry in callerHeaders)
            {
                if (!string.Equals(entry.Key, HeaderName, StringComparison.OrdinalIgnoreCase))
                {
                    headers.Add(entry);
                }
            }
        }

        headers.Add(HeaderName, options.CurrentValue.ServiceId);
        return new ClientInterceptorContext<TRequest, TResponse>(context.Method, context.Host, context.Options.WithHeaders(headers));
    }
}
