using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>Adds <c>x-mesh-service-id: &lt;Mesh:ServiceId&gt;</c> to every outgoing call.</summary>
internal sealed class ServiceIdHeaderInterceptor(IOptionsMonitor<SecureMeshOptions> options) : Interceptor
{
    public const string HeaderName = "x-mesh-service-id";

    private Metadata.Entry? _header;

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
        var header = Header();
        Metadata headers;
        if (context.Options.Headers is { Count: > 0 } callerHeaders)
        {
            headers = new Metadata();
            foreach (var entry in callerHeaders)
            {
                if (!string.Equals(entry.Key, HeaderName, StringComparison.OrdinalIgnoreCase))
                {
                    headers.Add(entry);
                }
            }

            headers.Add(header);
        }
        else
        {
            headers = [header];
        }

        return new ClientInterceptorContext<TRequest, TResponse>(context.Method, context.Host, context.Options.WithHeaders(headers));
    }

    /// <summary>The header entry of the current service id: an entry is immutable, so every call shares it until a reload changes the id.</summary>
    private Metadata.Entry Header()
    {
        var serviceId = options.CurrentValue.ServiceId;
        var header = _header;
        if (header is null || !ReferenceEquals(header.Value, serviceId) && !string.Equals(header.Value, serviceId, StringComparison.Ordinal))
        {
            header = new Metadata.Entry(HeaderName, serviceId);
            _header = header;
        }

        return header;
    }
}
