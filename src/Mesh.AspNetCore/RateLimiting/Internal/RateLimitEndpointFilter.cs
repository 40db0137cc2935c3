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
        var pending = gate.AdmitAsync(context.HttpContext, RateLimitConstants.HttpTransport);
        if (!pending.IsCompletedSuccessfully)
        {
            return ContinueAsync(pending, context, next);
        }

        var decision = pending.Result;
        return decision.IsAdmitted ? next(context) : ValueTask.FromResult(Reject(context.HttpContext, decision.RetryAfter));
    }

    private static async ValueTask<object?> ContinueAsync(
        ValueTask<RateLimitDecision> pending, EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var decision = await pending.ConfigureAwait(false);
        return decision.IsAdmitted ? await next(context).ConfigureAwait(false) : Reject(context.HttpContext, decision.RetryAfter);
    }

    private static object? Reject(HttpContext context, TimeSpan retryAfter)
    {
        var seconds = InboundRateLimitGate.ToRetryAfterSeconds(retryAfter);
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return Results.Problem(
            statusCode: StatusCodes.Status429TooManyRequests,
            title: "Too Many Requests",
            detail: InboundRateLimitGate.RejectionMessage(seconds),
            extensions: new Dictionary<string, object?> { ["retryAfterSeconds"] = seconds });
    }

    /// <summary>Endpoint metadata that marks an endpoint as already filtered, so a group and its endpoint count once.</summary>
    internal sealed class Marker
    {
        public static readonly Marker Instance = new();
    }
}
