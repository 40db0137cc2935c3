namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>
/// Where the fixed windows of the inbound rate limit are counted. The gate resolves the partition and records the
/// decision; a store only takes a permit from the partition's window, or tells how long until the window admits again.
/// </summary>
internal interface IRateLimitStore
{
    /// <summary>Takes one permit from <paramref name="partition"/>'s window under the current <paramref name="limit"/>.</summary>
    ValueTask<RateLimitDecision> AcquireAsync(CallerKey partition, RateLimitOptions limit);
}
