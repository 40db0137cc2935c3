using Mesh.AspNetCore;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

/// <summary>
/// Maps the mesh's endpoints.
/// </summary>
public static partial class MeshEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Serves <see cref="ISecureMesh.GetStats"/> as camelCase JSON on GET <paramref name="pattern"/>, with circuit
    /// breaker states as <c>"closed"</c>, <c>"open"</c> or <c>"half_open"</c>.
    /// </summary>
    /// <param name="endpoints">The application's endpoint route builder.</param>
    /// <param name="pattern">The route pattern. The default value is <c>/mesh/stats</c>.</param>
    /// <returns>A builder to add conventions to the endpoint, such as authorization.</returns>
    /// <exception cref="InvalidOperationException"><c>AddSecureMesh()</c> was not called on the application's services.</exception>
    public static IEndpointConventionBuilder MapMeshStats(this IEndpointRouteBuilder endpoints, string pattern = "/mesh/stats")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrEmpty(pattern);

        var mesh = GetMeshService<ISecureMesh>(endpoints, nameof(MapMeshStats));

        return endpoints.MapGet(pattern, context => context.Response.WriteAsJsonAsync(
                mesh.GetStats(),
                MeshStatsJsonContext.Default.MeshStats,
                contentType: null,
                context.RequestAborted))
            .WithDisplayName("Mesh stats");
    }

    /// <summary>A service that <c>AddSecureMesh()</c> registers, or an error naming that call for <paramref name="method"/>.</summary>
    private static T GetMeshService<T>(IEndpointRouteBuilder endpoints, string method)
        where T : notnull =>
        endpoints.ServiceProvider.GetService<T>()
            ?? throw new InvalidOperationException(
                $"{method} needs the mesh's services: call builder.Services.AddSecureMesh() when configuring the application's services.");
}
