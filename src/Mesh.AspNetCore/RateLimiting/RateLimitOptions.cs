using Mesh.AspNetCore.RateLimiting.Internal;

namespace Mesh.AspNetCore;

/// <summary>
/// The inbound rate limit, bound from <c>Mesh:Resilience:RateLimit</c>: at most <see cref="MaxRequests"/> requests
/// per caller in each fixed window of <see cref="WindowMs"/> milliseconds.
/// </summary>
/// <remarks>
/// The limit is off until configured: setting <see cref="MaxRequests"/> turns it on, and
/// <see cref="Enabled"/> set to <see langword="false"/> turns it off again.
/// </remarks>
public sealed class RateLimitOptions
{
    /// <summary>Gets or sets whether the limit is applied.</summary>
    /// <value>
    /// The default value is <see langword="null"/>: the limit is applied when <see cref="MaxRequests"/> is set.
    /// <see langword="true"/> requires <see cref="MaxRequests"/>.
    /// </value>
    public bool? Enabled { get; set; }

    /// <summary>Gets or sets the number of requests a caller may make in one window.</summary>
    /// <value>The default value is <see langword="null"/> (not configured). Valid range 1 to 2147483647.</value>
    public int? MaxRequests { get; set; }

    /// <summary>Gets or sets the length of the fixed window, in milliseconds.</summary>
    /// <value>The default value is 60000 (one minute). Valid range 1 to 86400000 (one day).</value>
    public int WindowMs { get; set; } = RateLimitConstants.DefaultWindowMs;

    /// <summary>Gets or sets how requests are grouped into quotas.</summary>
    /// <value>The default value is <see cref="RateLimitPartition.Caller"/>: one quota per caller.</value>
    public RateLimitPartition PartitionBy { get; set; } = RateLimitPartition.Caller;

    /// <summary>Gets or sets where the counts are kept: in this process, or in a store shared by every replica.</summary>
    /// <value>
    /// The default value is <see cref="RateLimitStore.Memory"/>. <see cref="RateLimitStore.Redis"/> uses
    /// <c>Mesh:Redis</c>.
    /// </value>
    public RateLimitStore Store { get; set; } = RateLimitStore.Memory;

    /// <summary>Gets or sets what the limit does while the shared store does not answer within <c>Mesh:Redis:TimeoutMs</c>.</summary>
    /// <value>The default value is <see cref="RateLimitStoreFailureMode.Local"/>: each replica limits on its own until the store is back.</value>
    public RateLimitStoreFailureMode OnStoreFailure { get; set; } = RateLimitStoreFailureMode.Local;

    /// <summary>Gets whether the limit is applied: <see cref="Enabled"/>, or else whether <see cref="MaxRequests"/> is set.</summary>
    public bool IsEnabled => Enabled ?? MaxRequests.HasValue;
}
