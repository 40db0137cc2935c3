namespace Mesh.AspNetCore;

/// <summary>
/// A snapshot of the mesh, returned by <see cref="ISecureMesh.GetStats"/> and served as JSON by <c>MapMeshStats</c>.
/// </summary>
public sealed record MeshStats
{
    /// <summary>Gets this service's id, <c>Mesh:ServiceId</c>.</summary>
    public required string Service { get; init; }

    /// <summary>Gets the ids of the services this one has mesh clients for (registered with <c>AddClient</c>), in registration order.</summary>
    public required IReadOnlyList<string> ConnectedServices { get; init; }

    /// <summary>
    /// Gets the figures of the whole service: the sums over all target services, the worst circuit breaker state
    /// among them, the latency over all calls, and the inbound rate limiter's decisions.
    /// </summary>
    public required MeshMetricsSnapshot Metrics { get; init; }

    /// <summary>
    /// Gets the figures of each target service, by service id: every connected service, and any other service that
    /// calls were recorded for. Their <see cref="MeshMetricsSnapshot.RateLimitAllowed"/> and
    /// <see cref="MeshMetricsSnapshot.RateLimitBlocked"/> are 0, since the rate limiter counts inbound requests.
    /// </summary>
    public required IReadOnlyDictionary<string, MeshMetricsSnapshot> Services { get; init; }
}
