using System.Text.Json.Serialization;
using Mesh.AspNetCore.Telemetry.Internal;

namespace Mesh.AspNetCore;

/// <summary>
/// The figures of <see cref="MeshStats"/>, for the whole service (<see cref="MeshStats.Metrics"/>) or for one target
/// service (<see cref="MeshStats.Services"/>). Counts are since the application started.
/// </summary>
public sealed record MeshMetricsSnapshot
{
    /// <summary>Gets the number of logical calls made through mesh clients; a call counts once however many times it was retried.</summary>
    public long MessagesSent { get; init; }

    /// <summary>Gets the number of those calls that ended with an error status (anything but <c>OK</c>), including calls rejected by an open circuit.</summary>
    public long MessagesFailed { get; init; }

    /// <summary>
    /// Gets the circuit breaker state: of the target service in a per-service entry; in <see cref="MeshStats.Metrics"/>
    /// the worst over all target services (<see cref="CircuitState.Open"/>, then <see cref="CircuitState.HalfOpen"/>,
    /// then <see cref="CircuitState.Closed"/>). Serialized as <c>"closed"</c>, <c>"open"</c> or <c>"half_open"</c>.
    /// </summary>
    [JsonConverter(typeof(CircuitStateJsonConverter))]
    public CircuitState CircuitBreakerState { get; init; }

    /// <summary>Gets the number of retries scheduled (attempts after the first).</summary>
    public long Retries { get; init; }

    /// <summary>
    /// Gets the number of retries that the retry budget (<c>Mesh:Resilience:Retry:Budget</c>) refused: the call ended
    /// with the failed attempt's status instead of being retried.
    /// </summary>
    public long RetriesThrottled { get; init; }

    /// <summary>Gets the number of inbound requests (gRPC and HTTP) the rate limiter admitted. Always 0 in a per-service entry.</summary>
    public long RateLimitAllowed { get; init; }

    /// <summary>Gets the number of inbound requests (gRPC and HTTP) the rate limiter rejected. Always 0 in a per-service entry.</summary>
    public long RateLimitBlocked { get; init; }

    /// <summary>Gets the mean duration of the calls in <see cref="MessagesSent"/>, in milliseconds, retries and backoff included; 0 without calls.</summary>
    public double AverageLatencyMs { get; init; }

    /// <summary>Gets the median call duration in milliseconds (within about 2%); 0 without calls.</summary>
    public double P50LatencyMs { get; init; }

    /// <summary>Gets the 99th percentile call duration in milliseconds (within about 2%); 0 without calls.</summary>
    public double P99LatencyMs { get; init; }

    /// <summary>
    /// Gets the endpoints of the target service in a per-service entry, in discovery order, with their state and
    /// counts; <see langword="null"/> (left out of the JSON) in <see cref="MeshStats.Metrics"/>.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<EndpointStats>? Endpoints { get; init; }
}
