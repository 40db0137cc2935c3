using Mesh.AspNetCore.RateLimiting.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Applies the mesh's inbound rate limit to HTTP endpoints.</summary>
public static class MeshEndpointConventionBuilderExtensions
{
    /// <summary>
    /// Applies the mesh's inbound rate limit (<c>Mesh:Resilience:RateLimit</c>) to the endpoint, or to every endpoint
    /// of a route group. The endpoint shares each caller's quota with the service's gRPC methods. A rejected request
    /// gets <c>429 Too Many Requests</c> with a <c>Retry-After</c> header (seconds) and a problem-details body, and
    /// the handler does not run.
    /// </summary>
    /// <typeparam name="TBuilder">The endpoint or route group builder.</typeparam>
    /// <param name="builder">The builder of a minimal API endpoint or route group.</param>
    /// <returns>The same builder.</returns>
    /// <remarks>
    /// The decision is taken when routing has selected the endpoint and the pipeline's middleware has run, before the
    /// endpoint runs: before minimal-API parameter binding reads the body. Marking an endpoint and its group counts each
    /// request once. When the endpoints are built, an <see cref="InvalidOperationException"/> is thrown if
    /// <c>AddSecureMesh</c> was not called.
    /// </remarks>
    public static TBuilder RequireMeshRateLimit<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Add(static endpoint =>
        {
            if (endpoint.Metadata.Contains(RateLimitEndpointMarker.Instance))
            {
                return;
            }

            _ = endpoint.ApplicationServices.GetService<InboundRateLimitGate>()
                ?? throw new InvalidOperationException(
                    "RequireMeshRateLimit() needs the mesh's services: call builder.Services.AddSecureMesh() in Program.cs before building the application.");
            endpoint.Metadata.Add(RateLimitEndpointMarker.Instance);
        });
        return builder;
    }
}
