namespace Mesh.AspNetCore;

/// <summary>Where the inbound rate limit keeps its counts (<c>Mesh:Resilience:RateLimit:Store</c>).</summary>
public enum RateLimitStore
{
    /// <summary>In this process's memory: each replica counts its own quota.</summary>
    Memory = 0,

    /// <summary>
    /// In a Redis-compatible store (Redis 6 or later, Garnet) configured under <c>Mesh:Redis</c>: every replica with
    /// the same <c>Mesh:ServiceId</c> shares one quota per partition.
    /// </summary>
    Redis = 1,
}
