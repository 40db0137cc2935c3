using Grpc.Core;
using Mesh.AspNetCore.Resilience.Internal;

namespace Mesh.AspNetCore;

/// <summary>
/// The outbound circuit breaker, bound from <c>Mesh:Resilience:CircuitBreaker</c>. Each target service has its own breaker.
/// </summary>
/// <remarks>
/// <see cref="FailureThreshold"/> consecutive failed attempts open the breaker. While open, calls fail at once with
/// <see cref="StatusCode.Unavailable"/> without touching the network. After <see cref="Timeout"/> milliseconds it is
/// half-open and admits at most <see cref="SuccessThreshold"/> trial calls at once; that many successes close it and
/// any failure opens it again.
/// </remarks>
public sealed class CircuitBreakerOptions
{
    /// <summary>Gets or sets whether calls go through the circuit breaker.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>Gets or sets the number of consecutive failed attempts that open the breaker.</summary>
    /// <value>The default value is 5. Valid range 1 to 10000.</value>
    public int FailureThreshold { get; set; } = CircuitBreakerConstants.DefaultFailureThreshold;

    /// <summary>Gets or sets the number of successful half-open trial calls that close the breaker.</summary>
    /// <value>The default value is 2. Valid range 1 to 10000.</value>
    public int SuccessThreshold { get; set; } = CircuitBreakerConstants.DefaultSuccessThreshold;

    /// <summary>Gets or sets how long the breaker stays open before admitting trial calls, in milliseconds.</summary>
    /// <value>The default value is 60000 (one minute). Valid range 1 to 86400000 (one day).</value>
    public int Timeout { get; set; } = CircuitBreakerConstants.DefaultTimeoutMs;

    /// <summary>Gets or sets the gRPC statuses that count as a failure of the target service.</summary>
    /// <value>
    /// The default value is <see langword="null"/>, meaning <see cref="StatusCode.Unavailable"/>,
    /// <see cref="StatusCode.DeadlineExceeded"/>, <see cref="StatusCode.Internal"/>, <see cref="StatusCode.Unknown"/>
    /// and <see cref="StatusCode.DataLoss"/>. Caller errors such as <see cref="StatusCode.InvalidArgument"/> and the
    /// caller's own cancellation never count.
    /// </value>
    public IList<StatusCode>? FailureStatusCodes { get; set; }
}
