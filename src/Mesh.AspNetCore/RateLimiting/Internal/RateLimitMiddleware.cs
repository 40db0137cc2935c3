using Grpc.AspNetCore.Server;
using Mesh.AspNetCore.Internal;
using Microsoft.AspNetCore.Http;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>
/// Takes the inbound rate-limit decision after routing has chosen the endpoint and before the endpoint runs: before
/// grpc-dotnet's call handler reads the request message and before minimal-API parameter binding reads the body. It
/// limits every gRPC method (the standard health service excepted) and every HTTP endpoint marked
/// <c>RequireMeshRateLimit()</c>. A rejected request is answered here, with nothing thrown and nothing read; an admitted
/// one is marked with <see cref="RateLimitDecidedFeature"/> so that <see cref="RateLimitInterceptor"/> and
/// <see cref="RateLimitEndpointFilter"/>, which decide where this middleware did not run, do not count it again.
/// </summary>
internal sealed class RateLimitMiddleware(RequestDelegate next, InboundRateLimitGate gate, RateLimitRejectionWriter rejections)
{
    public Task InvokeAsync(HttpContext context)
    {
        var transport = TransportOf(context);
        if (transport is null)
        {
            return next(context);
        }

        var decision = gate.AdmitAsync(context, transport);
        return decision.IsCompletedSuccessfully
            ? Continue(context, decision.Result, transport)
            : ContinueAsync(context, decision, transport);
    }

    /// <summary>The transport the request is limited as, or <see langword="null"/> when this middleware does not limit it.</summary>
    internal static string? TransportOf(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        if (endpoint is null)
        {
            return null;
        }

        var metadata = endpoint.Metadata;
        if (metadata.GetMetadata<GrpcMethodMetadata>() is { } grpc)
        {
            // A request grpc-dotnet will refuse anyway (not HTTP/2, not application/grpc) is left to it, uncounted.
            return string.Equals(grpc.Method.ServiceName, RateLimitConstants.HealthServiceName, StringComparison.Ordinal)
                || !IsGrpcRequest(context.Request)
                ? null
                : RateLimitConstants.GrpcTransport;
        }

        return metadata.GetMetadata<RateLimitEndpointFilter.Marker>() is null ? null : RateLimitConstants.HttpTransport;
    }

    private static bool IsGrpcRequest(HttpRequest request)
    {
        if (!HttpProtocol.IsHttp2(request.Protocol) && !HttpProtocol.IsHttp3(request.Protocol))
        {
            return false;
        }

        const string GrpcContentType = "application/grpc";
        var contentType = request.ContentType;
        return contentType is not null
            && contentType.StartsWith(GrpcContentType, StringComparison.OrdinalIgnoreCase)
            && (contentType.Length == GrpcContentType.Length || contentType[GrpcContentType.Length] is '+' or ';');
    }

    private Task Continue(HttpContext context, RateLimitDecision decision, string transport)
    {
        if (decision.IsAdmitted)
        {
            context.Features.Set(RateLimitDecidedFeature.Instance);
            return next(context);
        }

        if (!ReferenceEquals(transport, RateLimitConstants.GrpcTransport))
        {
            return rejections.WriteHttpAsync(context, decision.RetryAfter);
        }

        if (UnreadRequest.HasEnded(context))
        {
            rejections.WriteGrpc(context, decision.RetryAfter);
            return Task.CompletedTask;
        }

        return HasSingleRequestMessage(context)
            ? RejectGrpcAtTheEndOfTheRequestAsync(context, decision.RetryAfter)
            : RejectGrpcStreamAsync(context, decision.RetryAfter);
    }

    // Answering before the request's end makes Kestrel reset the stream and log "the application completed without
    // reading the entire request body" at Information for every such rejection. A unary or server-streaming request is
    // one message that the client is sending right behind its headers: its end is awaited (the bytes are discarded
    // unparsed, up to UnreadRequest.MaxDiscardedBytes), which a served call would have awaited as well.
    private static bool HasSingleRequestMessage(HttpContext context) =>
        context.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>()?.Method.Type is Grpc.Core.MethodType.Unary or Grpc.Core.MethodType.ServerStreaming;

    private async Task RejectGrpcAtTheEndOfTheRequestAsync(HttpContext context, TimeSpan retryAfter)
    {
        if (await UnreadRequest.DiscardAsync(context.Request.BodyReader).ConfigureAwait(false))
        {
            rejections.WriteGrpc(context, retryAfter);
        }
    }

    // A client-streaming or duplex caller may keep writing for as long as it likes, or wait for an answer before it
    // writes more: it gets its answer at once (the trailers-only response ends the response stream), and what it still
    // sends is discarded until it ends or resets its request stream, as a gRPC client does once the call has ended.
    private Task RejectGrpcStreamAsync(HttpContext context, TimeSpan retryAfter)
    {
        rejections.WriteGrpc(context, retryAfter);
        return UnreadRequest.AnswerThenDiscardAsync(context);
    }

    private async Task ContinueAsync(HttpContext context, ValueTask<RateLimitDecision> decision, string transport) =>
        await Continue(context, await decision.ConfigureAwait(false), transport).ConfigureAwait(false);
}

/// <summary>
/// Set on a request that <see cref="RateLimitMiddleware"/> admitted: the decision is taken and counted, and the
/// fallbacks (the gRPC interceptor, the endpoint filter) let the request through without counting it again.
/// </summary>
internal sealed class RateLimitDecidedFeature
{
    public static readonly RateLimitDecidedFeature Instance = new();

    private RateLimitDecidedFeature()
    {
    }

    /// <summary>Whether the middleware already admitted <paramref name="context"/>.</summary>
    public static bool IsDecided(HttpContext context) => context.Features.Get<RateLimitDecidedFeature>() is not null;
}
