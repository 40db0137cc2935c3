namespace Mesh.AspNetCore;

/// <summary>
/// The resilience patterns of the mesh, bound from <c>Mesh:Resilience</c>.
/// </summary>
public sealed class ResilienceOptions
{
    /// <summary>Gets or sets the inbound rate limit (<c>Mesh:Resilience:RateLimit</c>). Off until configured.</summary>
    public RateLimitOptions RateLimit { get; set; } = new();

    /// <summary>Gets or sets the per-service outbound circuit breaker (<c>Mesh:Resilience:CircuitBreaker</c>). On by default.</summary>
    public CircuitBreakerOptions CircuitBreaker { get; set; } = new();

    /// <summary>Gets or sets the outbound retry policy (<c>Mesh:Resilience:Retry</c>). On by default.</summary>
    public RetryOptions Retry { get; set; } = new();

    /// <summary>Gets or sets the outlier ejection of single endpoints of a service (<c>Mesh:Resilience:OutlierDetection</c>). On by default.</summary>
    public OutlierDetectionOptions OutlierDetection { get; set; } = new();
}
