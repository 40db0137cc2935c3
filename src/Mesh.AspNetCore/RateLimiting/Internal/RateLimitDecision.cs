namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>
/// What the inbound gate decided for one request: admitted, or rejected with the time until its caller's window
/// admits again.
/// </summary>
/// <param name="IsAdmitted">Whether the request may run.</param>
/// <param name="RetryAfter">When rejected, the time until the caller is admitted again; otherwise zero.</param>
internal readonly record struct RateLimitDecision(bool IsAdmitted, TimeSpan RetryAfter)
{
    /// <summary>An admitted request.</summary>
    public static RateLimitDecision Admitted => new(true, TimeSpan.Zero);

    /// <summary>A rejected request whose caller is admitted again after <paramref name="retryAfter"/>.</summary>
    public static RateLimitDecision Rejected(TimeSpan retryAfter) => new(false, retryAfter);
}
