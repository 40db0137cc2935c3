namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>The rate limit's answer for one request: admitted, or rejected with the time until its partition admits again.</summary>
internal readonly record struct RateLimitDecision(bool IsAdmitted, TimeSpan RetryAfter)
{
    public static RateLimitDecision Admitted => new(true, TimeSpan.Zero);

    public static RateLimitDecision Rejected(TimeSpan retryAfter) => new(false, retryAfter);
}
