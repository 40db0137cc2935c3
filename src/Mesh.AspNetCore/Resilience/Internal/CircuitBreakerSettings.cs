using Grpc.Core;

namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>A snapshot of <see cref="CircuitBreakerOptions"/> taken when the call pipeline is built (and rebuilt on reload).</summary>
internal sealed class CircuitBreakerSettings
{
    private readonly bool[] _failureStatus = new bool[(int)StatusCode.Unauthenticated + 1];

    public CircuitBreakerSettings(CircuitBreakerOptions options)
    {
        FailureThreshold = options.FailureThreshold;
        SuccessThreshold = options.SuccessThreshold;
        BreakDuration = TimeSpan.FromMilliseconds(options.Timeout);
        foreach (var status in (IEnumerable<StatusCode>?)options.FailureStatusCodes ?? CircuitBreakerConstants.DefaultFailureStatusCodes)
        {
            if ((uint)status < (uint)_failureStatus.Length)
            {
                _failureStatus[(int)status] = true;
            }
        }
    }

    public int FailureThreshold { get; }

    public int SuccessThreshold { get; }

    public TimeSpan BreakDuration { get; }

    public bool IsFailure(StatusCode status) => (uint)status < (uint)_failureStatus.Length && _failureStatus[(int)status];
}
