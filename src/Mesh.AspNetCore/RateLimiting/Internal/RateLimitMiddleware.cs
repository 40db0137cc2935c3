using Mesh.AspNetCore.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>
/// Takes the inbound rate-limit decision of a <c>WebApplication</c>'s pipeline at its end, after routing has selected
/// the endpoint (and after authentication and authorization) and before the endpoint middleware: a rejection there is
/// answered without the endpoint middleware's "Executing endpoint" and "Executed endpoint" log lines. Routing selected a
/// <see cref="RateLimitedEndpoint"/> stand-in for each limited endpoint; an admitted request goes on with the endpoint
/// routing matched, so the stand-in does not decide again. Every other request passes untouched.
/// </summary>
internal sealed class RateLimitMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        // The endpoint feature is looked up once: it gives the stand-in and takes the matched endpoint back.
        var selected = RequestFeatures.Get<IEndpointFeature>(context.Features);
        return RateLimitedEndpoint.Of(selected?.Endpoint) is { } limited
            ? limited.InvokeBeforeEndpointAsync(context, selected!, next)
            : next(context);
    }
}
