namespace Mesh.AspNetCore;

/// <summary>
/// One endpoint of a target service in <see cref="MeshMetricsSnapshot.Endpoints"/>: where it is, whether it gets calls,
/// and the attempts it received. Counts are since the application started.
/// </summary>
public sealed record EndpointStats
{
    /// <summary>Gets the endpoint as <c>host:port</c> (an IPv6 address in brackets).</summary>
    public required string Address { get; init; }

    /// <summary>
    /// Gets the endpoint's state: <c>ready</c> (connected, gets calls), <c>ejected</c> (failing, gets no calls until
    /// its ejection time has passed), or the gRPC connectivity state of its connection: <c>connecting</c>, <c>idle</c>
    /// (not connected yet) or <c>transient_failure</c> (refuses connections; skipped).
    /// </summary>
    public required string State { get; init; }

    /// <summary>Gets the number of attempts sent to the endpoint (every retry counts).</summary>
    public long Calls { get; init; }

    /// <summary>Gets the number of those attempts that failed with one of the circuit breaker's failure statuses, or whose connection broke.</summary>
    public long Failures { get; init; }
}
