using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>
/// Applies the inbound rate limit to an HTTP endpoint marked with <c>RequireMeshRateLimit()</c>. A rejected request
/// gets <c>429 Too Many Requests</c>, a <c>Retry-After</c> header and a problem-details body; the handler does not run.
/// </summary>
internal sealed class RateLimitEndpointFilter(InboundRateLimitGate gate) : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (gate.TryAdmit(context.HttpContext, RateLimitConstants.HttpTransport, out var retryAfter))
        {
            return next(context);
        }

        var seconds = InboundRateLimitGate.ToRetryAfterSeconds(retryAfter);
        context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return ValueTask.FromResult<object?>(Results.Problem(
            statusCode: StatusCodes.Status429TooManyRequests,
            title: "Too Many Requests",
            detail: InboundRateLimitGate.RejectionMessage(seconds),
            extensions: new Dictionary<string, object?> { ["retryAfterSeconds"] = seconds }));
    }

    /// <summary>Endpoint metadata that marks an endpoint as already filtered, so a group and its endpoint count once.</summary>
    internal sealed class Marker
    {
        public static readonly Marker Instance = new();
    }
}
