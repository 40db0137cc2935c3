using Mesh.AspNetCore.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Identity.Internal;

/// <summary>
/// First middleware of the application (added through <see cref="CallerIdentityStartupFilter"/>): makes the identity of
/// the caller's mesh certificate the request's <see cref="HttpContext.User"/>, so that the rate limiter partitions by it
/// and authorization policies see it, and applies <c>Mesh:Authorization</c> before any other work. A refused gRPC call
/// ends with a trailers-only <c>PERMISSION_DENIED</c>, a refused HTTP request with 403; neither reaches a handler nor
/// counts against a quota. The gRPC health service is open to every caller. Plain HTTP requests without a mesh
/// certificate (another endpoint of the application) are left to the application.
/// </summary>
internal sealed partial class CallerAuthorizationMiddleware
{
    private const string GrpcContentType = "application/grpc";
    private const string PermissionDenied = "7";

    private readonly RequestDelegate _next;
    private readonly MeshServerTls _tls;
    private readonly ILogger<CallerAuthorizationMiddleware> _logger;

    // The rules in force, kept from the last (validated) reload rather than looked up in the options monitor's cache on
    // every request. The subscription lives as long as the application's pipeline.
    private CallerAuthorizationOptions _authorization;

    public CallerAuthorizationMiddleware(RequestDelegate next, IOptionsMonitor<SecureMeshOptions> options, MeshServerTls tls,
        ILogger<CallerAuthorizationMiddleware> logger)
    {
        _next = next;
        _tls = tls;
        _logger = logger;
        _authorization = options.CurrentValue.Authorization;
        options.OnChange(reloaded => Volatile.Write(ref _authorization, reloaded.Authorization));
    }

    public Task InvokeAsync(HttpContext context)
    {
        var peer = _tls.IsApplied ? RequestFeatures.Get<MeshPeerFeature>(context.Features) : null;
        if (peer is not null)
        {
            context.User = peer.CreatePrincipal();
        }

        var authorization = Volatile.Read(ref _authorization);
        if (!authorization.IsRestricted)
        {
            return _next(context);
        }

        var path = context.Request.Path.Value ?? string.Empty;
        if (path.StartsWith(IdentityConstants.HealthServicePrefix, StringComparison.Ordinal))
        {
            return _next(context);
        }

        var isGrpc = context.Request.ContentType?.StartsWith(GrpcContentType, StringComparison.OrdinalIgnoreCase) == true;
        if ((peer is null && !isGrpc) || MethodRules.IsAllowed(authorization, path, peer?.Identity.Name))
        {
            return _next(context);
        }

        LogDenied(_logger, peer?.Identity.Name ?? "(no mesh certificate)", path);
        var message = peer is null
            ? "A mesh client certificate is required to call this service."
            : $"Caller '{peer.Identity.Name}' is not allowed to call this method (Mesh:Authorization).";
        var response = context.Response;
        if (isGrpc)
        {
            // Trailers-only: the status travels in the response headers of a response without a body.
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = GrpcContentType;
            response.Headers["grpc-status"] = PermissionDenied;
            response.Headers["grpc-message"] = message;

            // Answered now, whatever the call type; the request's end is then awaited and dropped, so that Kestrel
            // does not log each refused call as a request body left unread (a caller that hammers a method it may not
            // call would otherwise flood the log).
            return UnreadRequest.HasEnded(context) ? Task.CompletedTask : UnreadRequest.AnswerThenDiscardAsync(context);
        }

        response.StatusCode = StatusCodes.Status403Forbidden;
        return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: message).ExecuteAsync(context);
    }

    // Debug, not Information: a caller hammering a method it may not call would otherwise write a line per call.
    [LoggerMessage(EventId = 8011, EventName = "CallerNotAllowed", Level = LogLevel.Debug,
        Message = "Refused {Caller} on {Path}: not allowed by Mesh:Authorization.")]
    private static partial void LogDenied(ILogger logger, string caller, string path);
}
