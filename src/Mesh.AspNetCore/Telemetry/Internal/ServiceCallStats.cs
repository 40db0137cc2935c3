namespace Mesh.AspNetCore.Telemetry.Internal;

/// <summary>What the mesh's clients recorded for one target service since the application started.</summary>
internal sealed class ServiceCallStats
{
    private const int NoState = -1;

    private long _sent;
    private long _failed;
    private long _retries;
    private long _retriesThrottled;
    private int _lastKnownState = NoState;

    public LatencyHistogram Latency { get; } = new();

    public long Sent => Volatile.Read(ref _sent);

    public long Failed => Volatile.Read(ref _failed);

    public long Retries => Volatile.Read(ref _retries);

    public long RetriesThrottled => Volatile.Read(ref _retriesThrottled);

    /// <summary>The state the last reported breaker transition moved to, or null when none was reported.</summary>
    public CircuitState? LastKnownState
    {
        get
        {
            var state = Volatile.Read(ref _lastKnownState);
            return state == NoState ? null : (CircuitState)state;
        }
    }

    public void CallCompleted(bool failed, TimeSpan duration)
    {
        Interlocked.Increment(ref _sent);
        if (failed)
        {
            Interlocked.Increment(ref _failed);
        }

        Latency.Record(duration);
    }

    public void RetryScheduled() => Interlocked.Increment(ref _retries);

    public void RetryThrottled() => Interlocked.Increment(ref _retriesThrottled);

    public void StateChanged(CircuitState to) => Volatile.Write(ref _lastKnownState, (int)to);
}
