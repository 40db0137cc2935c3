using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>
/// Puts <see cref="RateLimitMiddleware"/> into the application's pipeline without the application adding anything:
/// at the end of the <c>WebApplication</c>'s own pipeline, which runs after routing has chosen the endpoint (and after
/// authentication and authorization, which <c>WebApplication</c> adds after routing or the application adds itself) and
/// right before the endpoint runs.
/// </summary>
/// <remarks>
/// An <see cref="IStartupFilter"/> wraps the whole pipeline: what it adds before the application's configuration runs
/// before routing, and what it adds after runs after the endpoint middleware, which does not call on once it ran an
/// endpoint. A <c>WebApplication</c> builds its own middleware into the outer pipeline only when the server starts,
/// between the routing it adds and the endpoint middleware it adds; after the application's configuration, the outer
/// builder's route builder property holds the <c>WebApplication</c>, and a middleware added to it lands there. Where the
/// pipeline is not a <c>WebApplication</c>'s (a <c>Startup</c> class that calls <c>UseEndpoints</c> itself), the
/// middleware is not added and the stand-in endpoints of <see cref="RateLimitMatcherPolicy"/> take the decision when
/// they run.
/// </remarks>
internal sealed class RateLimitStartupFilter : IStartupFilter
{
    // Where UseRouting keeps the route builder whose endpoints it matches (EndpointRoutingApplicationBuilderExtensions).
    internal const string EndpointRouteBuilderKey = "__EndpointRouteBuilder";

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        next(app);
        if (app.Properties.TryGetValue(EndpointRouteBuilderKey, out var routeBuilder)
            && routeBuilder is IApplicationBuilder application
            && !ReferenceEquals(application, app))
        {
            application.Use(static rest => new RateLimitMiddleware(rest).InvokeAsync);
        }
    };
}
