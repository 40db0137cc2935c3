namespace Mesh.AspNetCore.Telemetry.Internal;

/// <summary>What the mesh's clients recorded for one target service since the application started.</summary>
internal sealed class ServiceCallStats
{
    private const int NoState = -1;

    /// <summary>How many of the latest breaker transitions are kept, with their time, for the dashboard.</summary>
    internal const int RecentTransitionCapacity = 10;

    private readonly Lock _transitionsLock = new();
    private readonly CircuitTransitionRecord[] _recentTransitions = new CircuitTransitionRecord[RecentTransitionCapacity];
    private long _transitionCount;

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

    /// <summary>The number of breaker transitions reported since the start.</summary>
    public long TransitionCount
    {
        get
        {
            lock (_transitionsLock)
            {
                return _transitionCount;
            }
        }
    }

    /// <summary>Records a breaker transition; the latest <see cref="RecentTransitionCapacity"/> are kept. Allocates nothing.</summary>
    public void StateChanged(CircuitState from, CircuitState to, DateTimeOffset at)
    {
        Volatile.Write(ref _lastKnownState, (int)to);
        lock (_transitionsLock)
        {
            _recentTransitions[_transitionCount % RecentTransitionCapacity] = new CircuitTransitionRecord(at, from, to);
            _transitionCount++;
        }
    }

    /// <summary>
    /// Copies the latest transitions, oldest first, into <paramref name="destination"/> (at least
    /// <see cref="RecentTransitionCapacity"/> long) and returns how many were copied.
    /// </summary>
    public int CopyRecentTransitions(Span<CircuitTransitionRecord> destination)
    {
        lock (_transitionsLock)
        {
            var count = (int)Math.Min(_transitionCount, RecentTransitionCapacity);
            var first = _transitionCount - count;
            for (var i = 0; i < count; i++)
            {
                destination[i] = _recentTransitions[(first + i) % RecentTransitionCapacity];
            }

            return count;
        }
    }
}

/// <summary>A breaker transition with the time it happened.</summary>
internal readonly record struct CircuitTransitionRecord(DateTimeOffset At, CircuitState From, CircuitState To);
