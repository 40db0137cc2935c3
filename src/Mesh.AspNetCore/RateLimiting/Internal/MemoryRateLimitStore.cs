namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>The counts in this process (<c>Store: Memory</c>): each replica has its own quota. Always answers synchronously.</summary>
internal sealed class MemoryRateLimitStore(MeshRateLimiter limiter) : IRateLimitStore
{
    public RateLimitDecision Acquire(CallerKey partition, RateLimitOptions limit) =>
        limiter.TryAcquire(partition, limit, out var retryAfter) ? RateLimitDecision.Admitted : RateLimitDecision.Rejected(retryAfter);

    public ValueTask<RateLimitDecision> AcquireAsync(CallerKey partition, RateLimitOptions limit) => new(Acquire(partition, limit));
}
