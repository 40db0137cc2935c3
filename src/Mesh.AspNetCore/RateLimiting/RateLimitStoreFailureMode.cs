namespace Mesh.AspNetCore;

/// <summary>
/// What the inbound rate limit does while its shared store does not answer
/// (<c>Mesh:Resilience:RateLimit:OnStoreFailure</c>).
/// </summary>
public enum RateLimitStoreFailureMode
{
    /// <summary>Each replica enforces the limit on its own, in memory, until the store answers again.</summary>
    Local = 0,

    /// <summary>Every request is admitted until the store answers again.</summary>
    Allow = 1,

    /// <summary>Every request is rejected, with a retry-after of one second, until the store answers again.</summary>
    Reject = 2,
}
