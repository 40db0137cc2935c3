using Grpc.Core;
using Mesh.AspNetCore.Resilience.Internal;

namespace Mesh.AspNetCore;

/// <summary>
/// The retry budget of each target service, bound from <c>Mesh:Resilience:Retry:Budget</c> (the retry budgets of
/// Linkerd and the retry throttling of gRPC): over the last <see cref="WindowMs"/>, retries to a service may add at most
/// <see cref="RetryRatio"/> of the calls made to it, plus <see cref="MinRetriesPerSecond"/> so that a quiet client can
/// still retry.
/// </summary>
/// <remarks>
/// A retry the budget refuses is not made: the caller gets the last attempt's status (such as
/// <see cref="StatusCode.Unavailable"/>) at once, and the refusal counts in <c>retriesThrottled</c> and the
/// <c>mesh.client.retries.throttled</c> instrument. A budget keeps what it counted when the configuration reloads.
/// </remarks>
public sealed class RetryBudgetOptions
{
    /// <summary>Gets or sets whether retries are limited by the budget.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>Gets or sets the retries each call adds to the budget: 0.2 allows one retry for every five calls.</summary>
    /// <value>The default value is 0.2. Valid range 0 to 1000.</value>
    public double RetryRatio { get; set; } = RetryBudgetConstants.DefaultRetryRatio;

    /// <summary>Gets or sets the retries per second allowed on top of <see cref="RetryRatio"/>, so that a client making few calls can still retry.</summary>
    /// <value>The default value is 10. Valid range 0 to 1000000.</value>
    public int MinRetriesPerSecond { get; set; } = RetryBudgetConstants.DefaultMinRetriesPerSecond;

    /// <summary>Gets or sets the sliding window over which calls and retries are counted, in milliseconds.</summary>
    /// <value>The default value is 10000 (ten seconds). Valid range 1000 to 600000 (ten minutes).</value>
    public int WindowMs { get; set; } = RetryBudgetConstants.DefaultWindowMs;
}
