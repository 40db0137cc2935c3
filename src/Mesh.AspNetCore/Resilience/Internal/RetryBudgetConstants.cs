namespace Mesh.AspNetCore.Resilience.Internal;

internal static class RetryBudgetConstants
{
    public const double DefaultRetryRatio = 0.2;
    public const double MaxRetryRatio = 1_000;
    public const int DefaultMinRetriesPerSecond = 10;
    public const int MaxMinRetriesPerSecond = 1_000_000;
    public const int DefaultWindowMs = 10_000;
    public const int MinWindowMs = 1_000;
    public const int MaxWindowMs = 600_000;

    /// <summary>The window slides in this many steps: calls and retries leave it one tenth of a window at a time.</summary>
    public const int Buckets = 10;

    /// <summary>Budget amounts are kept in thousandths of a retry, so that a ratio such as 0.2 adds exactly 200 per call.</summary>
    public const long Scale = 1_000;
}
