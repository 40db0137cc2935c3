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

    /// <summary>
    /// Gets or sets whether only idempotent methods are retried after their request may have reached the service's handler.
    /// </summary>
    /// <value>
    /// The default value is <see langword="false"/>: every method is retried. When <see langword="true"/>, a method is
    /// retried as usual when its proto declares <c>option idempotency_level = IDEMPOTENT;</c> or <c>NO_SIDE_EFFECTS;</c>,
    /// or when <see cref="IdempotentMethods"/> lists it; any other method is retried only when its request provably never
    /// reached a handler: the connection failed before the request was sent, or the called service's mesh rate limiter
    /// rejected it (<see cref="StatusCode.ResourceExhausted"/> with the <c>x-mesh-rejected: rate-limit</c> trailer).
    /// </value>
    public bool OnlyIdempotent { get; set; }

    /// <summary>
    /// Gets or sets methods to treat as idempotent in addition to those their proto declares, as
    /// <c>"package.Service/Method"</c> or <c>"package.Service/*"</c> for every method of a service. Read only when
    /// <see cref="OnlyIdempotent"/> is <see langword="true"/>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: only the methods the proto declares idempotent.</value>
    public IList<string>? IdempotentMethods { get; set; }

    /// <summary>
    /// Gets or sets the retry budget of each target service (<c>Mesh:Resilience:Retry:Budget</c>), which caps the extra
    /// load that retries add to a struggling service.
    /// </summary>
    /// <value>On by default: retries add at most 20% of the calls plus 10 retries per second, over 10 seconds.</value>
    public RetryBudgetOptions Budget { get; set; } = new();
}
