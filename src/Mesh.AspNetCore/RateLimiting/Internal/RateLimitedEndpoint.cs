using Grpc.AspNetCore.Server;
using Mesh.AspNetCore.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>
/// The inbound rate-limit decision of one limited endpoint (a gRPC method, the standard health service's excepted, or
/// an HTTP endpoint marked <c>RequireMeshRateLimit()</c>), taken before grpc-dotnet's call handler reads the request
/// message and before minimal-API parameter binding reads the body. A rejected request is answered here, with nothing
/// thrown and nothing read. <see cref="RateLimitMatcherPolicy"/> makes routing select, in place of the endpoint, a
/// stand-in whose request delegate is <see cref="InvokeAsync"/>, so the decision is taken in every routing pipeline; in
/// a <c>WebApplication</c>'s, <see cref="RateLimitMiddleware"/> takes it earlier, before the endpoint middleware, through
/// <see cref="InvokeBeforeEndpointAsync"/>.
/// </summary>
internal sealed class RateLimitedEndpoint
{
    private readonly RequestDelegate _endpoint;
    private readonly InboundRateLimitGate _gate;
    private readonly RateLimitRejectionWriter _rejections;
    private readonly bool _grpc;
    private readonly bool _singleRequestMessage;

    private RateLimitedEndpoint(RouteEndpoint original, InboundRateLimitGate gate, RateLimitRejectionWriter rejections, bool grpc, bool singleRequestMessage)
    {
        Original = original;
        _endpoint = original.RequestDelegate!;
        _gate = gate;
        _rejections = rejections;
        _grpc = grpc;
        _singleRequestMessage = singleRequestMessage;
    }

    /// <summary>The endpoint routing matched, whose place the stand-in takes.</summary>
    public RouteEndpoint Original { get; }

    /// <summary>The decision behind <paramref name="standIn"/>, or <see langword="null"/> when it is not a stand-in.</summary>
    public static RateLimitedEndpoint? Of(Endpoint? standIn) => standIn?.RequestDelegate?.Target as RateLimitedEndpoint;

    /// <summary>
    /// Whether <paramref name="endpoint"/> is limited: a gRPC method but the health service's, or an endpoint marked
    /// <c>RequireMeshRateLimit()</c>. A stand-in is not: it already decides, and wrapping it again would count twice.
    /// </summary>
    public static bool IsLimited(Endpoint endpoint) =>
        endpoint.RequestDelegate is { Target: not RateLimitedEndpoint }
        && (endpoint.Metadata.GetMetadata<GrpcMethodMetadata>() is { } grpc
            ? !string.Equals(grpc.Method.ServiceName, RateLimitConstants.HealthServiceName, StringComparison.Ordinal)
            : endpoint.Metadata.GetMetadata<RateLimitEndpointMarker>() is not null);

    /// <summary>
    /// The endpoint that routing selects in place of <paramref name="endpoint"/> (which <see cref="IsLimited"/> accepts):
    /// the same route, order, metadata and name, whose request delegate takes the decision first.
    /// </summary>
    public static RouteEndpoint Wrap(RouteEndpoint endpoint, InboundRateLimitGate gate, RateLimitRejectionWriter rejections)
    {
        var grpc = endpoint.Metadata.GetMetadata<GrpcMethodMetadata>();

        // A unary or server-streaming request is one message that the client sends right behind its headers.
        var singleRequestMessage = grpc?.Method.Type is Grpc.Core.MethodType.Unary or Grpc.Core.MethodType.ServerStreaming;
        var limited = new RateLimitedEndpoint(endpoint, gate, rejections, grpc is not null, singleRequestMessage);
        return new RouteEndpoint(limited.InvokeAsync, endpoint.RoutePattern, endpoint.Order, endpoint.Metadata, endpoint.DisplayName);
    }

    /// <summary>The stand-in's request delegate: the decision, then the endpoint's own delegate.</summary>
    public Task InvokeAsync(HttpContext context) => Decide(context, next: null, selected: null);

    /// <summary>
    /// The decision taken by a middleware before the endpoint middleware: an admitted request goes on to
    /// <paramref name="next"/> with <see cref="Original"/> as its endpoint, so the endpoint middleware runs the
    /// endpoint's own delegate and the decision is not taken again.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="selected">The request's endpoint feature, which holds the stand-in.</param>
    /// <param name="next">The rest of the pipeline: the endpoint middleware.</param>
    public Task InvokeBeforeEndpointAsync(HttpContext context, IEndpointFeature selected, RequestDelegate next) =>
        Decide(context, next, selected);

    // next and selected come together: both null for the stand-in's own delegate, both set for the middleware.
    private Task Decide(HttpContext context, RequestDelegate? next, IEndpointFeature? selected)
    {
        // A request grpc-dotnet will refuse anyway (not HTTP/2, not application/grpc) is left to it, uncounted.
        if (_grpc && !IsGrpcRequest(context.Request))
        {
            return Admit(context, next, selected);
        }

        var decision = _gate.AdmitAsync(context, _grpc ? RateLimitConstants.GrpcTransport : RateLimitConstants.HttpTransport);
        return decision.IsCompletedSuccessfully
            ? Continue(context, decision.Result, next, selected)
            : ContinueAsync(context, decision, next, selected);
    }

    private Task Admit(HttpContext context, RequestDelegate? next, IEndpointFeature? selected)
    {
        if (next is null)
        {
            return _endpoint(context);
        }

        selected!.Endpoint = Original;
        return next(context);
    }

    private static bool IsGrpcRequest(HttpRequest request)
    {
        if (!HttpProtocol.IsHttp2(request.Protocol) && !HttpProtocol.IsHttp3(request.Protocol))
        {
            return false;
        }

        const string GrpcContentType = "application/grpc";
        var contentType = request.ContentType;

        // Clients send the lower-case type: compared ordinally first, which is cheaper than without regard to case.
        if (string.Equals(contentType, GrpcContentType, StringComparison.Ordinal))
        {
            return true;
        }

        return contentType is not null
            && contentType.StartsWith(GrpcContentType, StringComparison.OrdinalIgnoreCase)
            && (contentType.Length == GrpcContentType.Length || contentType[GrpcContentType.Length] is '+' or ';');
    }

    private Task Continue(HttpContext context, RateLimitDecision decision, RequestDelegate? next, IEndpointFeature? selected)
    {
        if (decision.IsAdmitted)
        {
            return Admit(context, next, selected);
        }

        if (!_grpc)
        {
            return _rejections.WriteHttpAsync(context, decision.RetryAfter);
        }

        if (UnreadRequest.HasEnded(context))
        {
            _rejections.WriteGrpc(context, decision.RetryAfter);
            return Task.CompletedTask;
        }

        return _singleRequestMessage
            ? RejectGrpcAtTheEndOfTheRequestAsync(context, decision.RetryAfter)
            : RejectGrpcStreamAsync(context, decision.RetryAfter);
    }

    // Answering before the request's end makes Kestrel reset the stream and log "the application completed without
    // reading the entire request body" at Information for every such rejection. A unary or server-streaming request is
    // one message that the client is sending right behind its headers: its end is awaited (the bytes are discarded
    // unparsed, up to UnreadRequest.MaxDiscardedBytes), which a served call would have awaited as well.
    private async Task RejectGrpcAtTheEndOfTheRequestAsync(HttpContext context, TimeSpan retryAfter)
    {
        if (await UnreadRequest.DiscardAsync(context.Request.BodyReader).ConfigureAwait(false))
        {
            _rejections.WriteGrpc(context, retryAfter);
        }
    }

    // A client-streaming or duplex caller may keep writing for as long as it likes, or wait for an answer before it
    // writes more: it gets its answer at once (the trailers-only response ends the response stream), and what it still
    // sends is discarded until it ends or resets its request stream, as a gRPC client does once the call has ended.
    private Task RejectGrpcStreamAsync(HttpContext context, TimeSpan retryAfter)
    {
        _rejections.WriteGrpc(context, retryAfter);
        return UnreadRequest.AnswerThenDiscardAsync(context);
    }

    private async Task ContinueAsync(HttpContext context, ValueTask<RateLimitDecision> decision, RequestDelegate? next, IEndpointFeature? selected) =>
        await Continue(context, await decision.ConfigureAwait(false), next, selected).ConfigureAwait(false);
}

/// <summary>
/// Endpoint metadata that marks an HTTP endpoint as rate limited (<c>RequireMeshRateLimit()</c>); a group and its
/// endpoint marked both count once.
/// </summary>
internal sealed class RateLimitEndpointMarker
{
    public static readonly RateLimitEndpointMarker Instance = new();

    private RateLimitEndpointMarker()
    {
    }
}
