using Grpc.Core;

namespace Mesh.AspNetCore.Telemetry.Internal;

/// <summary>
/// The single place where the mesh records what happened: the <c>Mesh.AspNetCore</c> meter's instruments and the
/// counters behind <c>ISecureMesh.GetStats()</c>. Registered as a DI singleton.
/// </summary>
internal sealed class MeshMetrics
{
    public const string MeterName = "Mesh.AspNetCore";

    /// <summary>An inbound request was admitted or rejected by the rate limiter. <paramref name="transport"/> is "grpc" or "http".</summary>
    public void RateLimitDecision(bool admitted, string transport)
    {
    }

    /// <summary>A logical outbound call (all its attempts) ended with <paramref name="status"/>.</summary>
    public void CallCompleted(string serviceId, string method, StatusCode status, TimeSpan duration)
    {
    }

    /// <summary>An outbound attempt failed with <paramref name="status"/> and a retry was scheduled.</summary>
    public void RetryScheduled(string serviceId, string method, StatusCode status)
    {
    }

    /// <summary>The circuit breaker of <paramref name="serviceId"/> moved from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public void CircuitStateChanged(string serviceId, CircuitState from, CircuitState to)
    {
    }
}
