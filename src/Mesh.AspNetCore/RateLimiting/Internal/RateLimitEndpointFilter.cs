using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>
/// The fallback for HTTP endpoints marked with <c>RequireMeshRateLimit()</c> that <see cref="RateLimitMiddleware"/> did
/// not decide (a pipeline that runs endpoints before it, such as a <c>Startup</c> class calling <c>UseEndpoints</c>).
/// There the filter applies the limit, after parameter binding. A rejected request gets <c>429 Too Many Requests</c>, a
/// <c>Retry-After</c> header, <c>x-mesh-rejected: rate-limit</c> and a problem-details body; the handler does not run. A
/// request the middleware admitted passes untouched.
/// </summary>
internal sealed class RateLimitEndpointFilter(InboundRateLimitGate gate) : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var httpContext = context.HttpContext;
        if (RateLimitDecidedFeature.IsDecided(httpContext))
        {
            return next(context);
        }

        var pending = gate.AdmitAsync(httpContext, RateLimitConstants.HttpTransport);
        return pending.IsCompletedSuccessfully ? Continue(context, next, pending.Result) : ContinueAsync(context, next, pending);
    }

    private static async ValueTask<object?> ContinueAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next, ValueTask<RateLimitDecision> pending) =>
        await Continue(context, next, await pending.ConfigureAwait(false)).ConfigureAwait(false);

    private static ValueTask<object?> Continue(EndpointFilterInvocationContext context, EndpointFilterDelegate next, RateLimitDecision decision)
    {
        if (decision.IsAdmitted)
        {
            return next(context);
        }

        var seconds = InboundRateLimitGate.ToRetryAfterSeconds(decision.RetryAfter);
        var headers = context.HttpContext.Response.Headers;
        headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        headers[RateLimitConstants.RejectedByHeader] = RateLimitConstants.RateLimitRejection;
        return ValueTask.FromResult<object?>(Results.Problem(
            statusCode: StatusCodes.Status429TooManyRequests,
            title: RateLimitRejectionWriter.TooManyRequestsTitle,
            detail: InboundRateLimitGate.RejectionMessage(seconds),
            extensions: new Dictionary<string, object?> { [RateLimitRejectionWriter.RetryAfterSecondsExtension] = seconds }));
    }

    /// <summary>
    /// Endpoint metadata that marks an endpoint as rate limited: <see cref="RateLimitMiddleware"/> limits the endpoints
    /// that carry it, and a group and its endpoint marked both count once.
    /// </summary>
    internal sealed class Marker
    {
        public static readonly Marker Instance = new();
    }
}
