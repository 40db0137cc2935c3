using Mesh.AspNetCore.Discovery.Internal;

namespace Mesh.AspNetCore;

/// <summary>
/// Outlier ejection per endpoint of a service, bound from <c>Mesh:Resilience:OutlierDetection</c>.
/// </summary>
/// <remarks>
/// An endpoint whose last <see cref="ConsecutiveFailures"/> attempts failed with one of the circuit breaker's failure
/// statuses (<see cref="CircuitBreakerOptions.FailureStatusCodes"/>) gets no calls for <see cref="BaseEjectionTime"/>
/// milliseconds times the number of times it has been ejected. Never more than <see cref="MaxEjectionPercent"/> of a
/// service's endpoints, and never all of them, are ejected at once. The service's circuit breaker still sees every attempt.
/// </remarks>
public sealed class OutlierDetectionOptions
{
    /// <summary>Gets or sets whether endpoints are ejected.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>Gets or sets the number of consecutive failed attempts on one endpoint that eject it.</summary>
    /// <value>The default value is 5. Valid range 1 to 10000.</value>
    public int ConsecutiveFailures { get; set; } = OutlierDetectionConstants.DefaultConsecutiveFailures;

    /// <summary>Gets or sets how long an endpoint is ejected the first time, in milliseconds; the n-th ejection lasts n times as long.</summary>
    /// <value>The default value is 30000 (30 seconds). Valid range 1 to 86400000 (one day).</value>
    public int BaseEjectionTime { get; set; } = OutlierDetectionConstants.DefaultBaseEjectionTimeMs;

    /// <summary>Gets or sets the largest share of a service's endpoints that may be ejected at once, in percent (rounded down, and never all).</summary>
    /// <value>The default value is 50. Valid range 0 to 100.</value>
    public int MaxEjectionPercent { get; set; } = OutlierDetectionConstants.DefaultMaxEjectionPercent;
}
