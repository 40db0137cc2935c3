using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

public static partial class MeshEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Serves a live dashboard of the mesh on GET <paramref name="pattern"/>: one self-contained HTML page (no external
    /// script, style or font; it works offline) showing each target service's circuit breaker state and latest transitions,
    /// calls, failures and retries per second, p50/p99 latency with a chart of the last five minutes, its endpoints when
    /// stats list them, and the inbound rate limiter's decisions per second. The page reads its feed on GET
    /// <c>{pattern}/feed</c>: server-sent events every 500 ms, or one JSON snapshot for a client that does not ask for
    /// <c>text/event-stream</c>. The feed holds the same data as <c>MapMeshStats</c> (under <c>stats</c>).
    /// </summary>
    /// <param name="endpoints">The application's endpoint route builder.</param>
    /// <param name="pattern">The route pattern of the page. The default value is <c>/mesh/dashboard</c>.</param>
    /// <returns>
    /// A builder whose conventions apply to both the page and its feed: <c>RequireAuthorization()</c> protects both.
    /// </returns>
    /// <exception cref="InvalidOperationException"><c>AddSecureMesh()</c> was not called on the application's services.</exception>
    public static IEndpointConventionBuilder MapMeshDashboard(this IEndpointRouteBuilder endpoints, string pattern = "/mesh/dashboard")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrEmpty(pattern);

        var handlers = GetMeshService<DashboardEndpoints>(endpoints, nameof(MapMeshDashboard));
        endpoints.ServiceProvider.GetRequiredService<DashboardFeed>().Start();

        var group = endpoints.MapGroup(pattern);
        group.MapGet(string.Empty, new RequestDelegate(handlers.ServePageAsync)).WithDisplayName("Mesh dashboard");
        group.MapGet(DashboardConstants.FeedPath, new RequestDelegate(handlers.ServeFeedAsync)).WithDisplayName("Mesh dashboard feed");
        return group;
    }
}
