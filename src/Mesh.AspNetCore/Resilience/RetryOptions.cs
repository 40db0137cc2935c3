using Grpc.Core;
using Mesh.AspNetCore.Resilience.Internal;

namespace Mesh.AspNetCore;

/// <summary>
/// The outbound retry policy with exponential backoff, bound from <c>Mesh:Resilience:Retry</c>.
/// </summary>
/// <remarks>
/// With the defaults a failing call is attempted at 0 s, then after 1 s, 2 s and 4 s: <see cref="MaxAttempts"/> counts
/// the retries after the first call, and each delay doubles from <see cref="InitialDelay"/> up to <see cref="MaxDelay"/>.
/// </remarks>
public sealed class RetryOptions
{
    /// <summary>Gets or sets whether failed calls are retried.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>Gets or sets the number of retries after the first call. <c>0</c> turns retries off.</summary>
    /// <value>The default value is 3. Valid range 0 to 100.</value>
    public int MaxAttempts { get; set; } = RetryConstants.DefaultMaxAttempts;

    /// <summary>Gets or sets the delay before the first retry, in milliseconds; each further retry waits twice as long.</summary>
    /// <value>The default value is 1000. Valid range 1 to 86400000, and at most <see cref="MaxDelay"/>.</value>
    public int InitialDelay { get; set; } = RetryConstants.DefaultInitialDelayMs;

    /// <summary>Gets or sets the longest delay between two attempts, in milliseconds.</summary>
    /// <value>The default value is 30000. Valid range 1 to 86400000.</value>
    public int MaxDelay { get; set; } = RetryConstants.DefaultMaxDelayMs;

    /// <summary>Gets or sets whether delays are randomised (decorrelated jitter) to spread out retries of many clients.</summary>
    /// <value>The default value is <see langword="false"/>: delays are exactly as documented.</value>
    public bool UseJitter { get; set; }

    /// <summary>Gets or sets the gRPC statuses that are retried.</summary>
    /// <value>
    /// The default value is <see langword="null"/>, meaning <see cref="StatusCode.Unavailable"/>,
    /// <see cref="StatusCode.ResourceExhausted"/> and <see cref="StatusCode.Aborted"/>.
    /// </value>
    public IList<StatusCode>? RetryableStatusCodes { get; set; }
}
