using Mesh.AspNetCore.RateLimiting.Internal;

namespace Mesh.AspNetCore;

/// <summary>
/// The Redis-compatible store shared by the replicas of a service, bound from <c>Mesh:Redis</c>. Used when
/// <c>Mesh:Resilience:RateLimit:Store</c> is <see cref="RateLimitStore.Redis"/>.
/// </summary>
public sealed class RedisOptions
{
    /// <summary>
    /// Gets or sets the StackExchange.Redis configuration string, such as <c>redis.internal:6379,password=...</c>.
    /// </summary>
    /// <value>
    /// The default value is <see langword="null"/>: an <c>IConnectionMultiplexer</c> registered by the application is
    /// used, and with neither the host does not start. When set, it takes precedence over a registered multiplexer.
    /// </value>
    public string? Configuration { get; set; }

    /// <summary>Gets or sets the text every key of the mesh starts with, so several applications can share one store.</summary>
    /// <value>The default value is <c>mesh:</c>. At most 128 characters.</value>
    public string KeyPrefix { get; set; } = RedisStoreConstants.DefaultKeyPrefix;

    /// <summary>
    /// Gets or sets the longest time, in milliseconds, a request waits for the store. A request whose answer does not
    /// come in time is decided by <c>Mesh:Resilience:RateLimit:OnStoreFailure</c>.
    /// </summary>
    /// <value>The default value is 250. Valid range 1 to 10000.</value>
    public int TimeoutMs { get; set; } = RedisStoreConstants.DefaultTimeoutMs;
}
