using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>
/// A fixed-window limiter with one window per caller: a caller's window opens at its first request, admits
/// <c>MaxRequests</c> requests, and ends <c>WindowMs</c> later; the next request after that opens a new window.
/// Time comes from the injected <see cref="TimeProvider"/>. The limits in force come with every request (the inbound
/// gate keeps them from the last validated reload) or are read from <see cref="IOptionsMonitor{TOptions}"/>, so a
/// reload applies at once: counts made in a running window are kept and compared with the new <c>MaxRequests</c>, and
/// the new <c>WindowMs</c> decides when running windows end. Partitions whose window has ended are dropped every
/// <see cref="RateLimitConstants.SweepIntervalMs"/>, and once most of the partitions a flood brought are gone, the
/// table that grew to hold them is replaced by a small one (a <see cref="ConcurrentDictionary{TKey, TValue}"/> never
/// gives back the buckets it grew).
/// </summary>
/// <remarks>
/// <c>FixedWindowRateLimiter</c> is not used: it cannot take a <see cref="TimeProvider"/> and its
/// <c>RetryAfter</c> metadata is not the time left in the window (dotnet/runtime 106447, 92557).
/// <para>
/// Replacing the table while requests count in it: the sweep publishes the new table first, then copies the surviving
/// windows (the same objects, with their counts) into it. A request that misses in the new table takes the caller's
/// window from the old one if it is there. A request that found or added its window in the old table after the new one
/// was published sees, before it counts, that its table is no longer current, and starts again in the new one; so no
/// request counts in a window that neither the copy nor a later request can find.
/// </para>
/// <para>
/// Counting takes no lock: a request adds to its caller's running window with a compare-and-swap, opens the next window
/// by swapping in a new one, and is rejected by reading the count alone. A sweep marks a partition removed with a
/// compare-and-swap as well, which fails if a request opened a new window in the meantime.
/// </para>
/// <para>
/// Reading the clock: with the system's <see cref="TimeProvider"/>, a request first reads the coarse millisecond tick
/// count (<see cref="Environment.TickCount64"/>, a third of the cost of a precise timestamp). When that reading puts the
/// caller's window further from its end than the two clocks can differ
/// (<see cref="RateLimitConstants.CoarseClockSlackMs"/> and a thousandth of the window,
/// <see cref="RateLimitConstants.CoarseClockDriftDivisor"/>), the window certainly still runs and the request counts in
/// it without the precise clock. A request near the end, one that opens a window and one that is rejected read the
/// precise clock as before, so windows end and <c>RetryAfter</c> is given exactly as the <see cref="TimeProvider"/> says.
/// </para>
/// </remarks>
internal sealed class MeshRateLimiter : PartitionedRateLimiter<CallerKey>
{
    private readonly IOptionsMonitor<SecureMeshOptions> _options;
    private readonly TimeProvider _time;
    private readonly long _timestampFrequency;
    private readonly ITimer _sweepTimer;
    private readonly Lock _sweepLock = new();
    private ConcurrentDictionary<CallerKey, Window> _windows = new();

    /// <summary>While the surviving windows are copied into a new table: the table they are copied from.</summary>
    private ConcurrentDictionary<CallerKey, Window>? _previous;

    /// <summary>The most partitions the current table has held, as counted by the sweeps; guarded by <see cref="_sweepLock"/>.</summary>
    private int _highWater;
    private int _disposed;

    public MeshRateLimiter(IOptionsMonitor<SecureMeshOptions> options, TimeProvider time)
    {
        _options = options;
        _time = time;
        _timestampFrequency = time.TimestampFrequency;
        CoarseMilliseconds = ReferenceEquals(time, TimeProvider.System) ? static () => Environment.TickCount64 : null;
        var interval = TimeSpan.FromMilliseconds(RateLimitConstants.SweepIntervalMs);
        _sweepTimer = time.CreateTimer(static state => ((MeshRateLimiter)state!).RemoveIdlePartitions(), this, interval, interval);
    }

    /// <summary>The number of live partitions (callers with a window that has not been swept yet).</summary>
    internal int PartitionCount => Volatile.Read(ref _windows).Count;

    /// <summary>The most partitions the current table has held: the size it grew to, which a sweep brings down after a flood.</summary>
    internal int PartitionTableHighWater
    {
        get
        {
            lock (_sweepLock)
            {
                return _highWater;
            }
        }
    }

    /// <summary>The current partition table, for tests that check that a replaced one is no longer held.</summary>
    internal object PartitionTable => Volatile.Read(ref _windows);

    /// <summary>
    /// The coarse clock (milliseconds) that lets a request count without reading the precise one, or
    /// <see langword="null"/> to read the precise clock on every request: <see cref="Environment.TickCount64"/> with the
    /// system's time provider, none with any other. Tests set a coarse clock beside a fake time provider. Over a
    /// window it must fall behind the time provider by less than the margin the remarks on this class give.
    /// </summary>
    internal Func<long>? CoarseMilliseconds { get; set; }

    /// <summary>Tests only: runs when a request has read which table is current, before it looks its caller up.</summary>
    internal Action? OnTableRead { get; set; }

    /// <summary>Tests only: runs when a sweep has published a new table, before it copies the surviving windows into it.</summary>
    internal Action? OnTablePublished { get; set; }

    /// <summary>Tests only: runs when a sweep has found a window that ended, before it marks the partition removed.</summary>
    internal Action? OnEndedWindowFound { get; set; }

    public override RateLimiterStatistics? GetStatistics(CallerKey resource)
    {
        var limit = _options.CurrentValue.Resilience.RateLimit;
        var available = limit.MaxRequests ?? int.MaxValue;
        if (limit.IsEnabled
            && Find(resource) is { } window
            && Volatile.Read(ref window.Current) is { } current
            && !ReferenceEquals(current, WindowCount.Removed)
            && _time.GetTimestamp() - current.Start < WindowLength(limit))
        {
            available = Math.Max(0, available - Volatile.Read(ref current.Count));
        }

        return new RateLimiterStatistics { CurrentAvailablePermits = available };
    }

    protected override RateLimitLease AttemptAcquireCore(CallerKey resource, int permitCount) =>
        TryAcquire(resource, _options.CurrentValue.Resilience.RateLimit, permitCount, out var retryAfter) ? AcquiredLease.Instance : new RejectedLease(retryAfter);

    /// <summary>
    /// Takes one permit from <paramref name="resource"/>'s window, or gives the time until the window admits again.
    /// The per-request path of the inbound gate: unlike <see cref="PartitionedRateLimiter{TResource}.AttemptAcquire"/>
    /// it creates no lease, so a rejection allocates nothing either.
    /// </summary>
    /// <param name="resource">The caller's partition.</param>
    /// <param name="limit">The limits in force, as the caller read them (the inbound gate reads them once per request).</param>
    /// <param name="retryAfter">When rejected, the time until the caller's window admits again.</param>
    internal bool TryAcquire(CallerKey resource, RateLimitOptions limit, out TimeSpan retryAfter) =>
        TryAcquire(resource, limit, 1, out retryAfter);

    private bool TryAcquire(CallerKey resource, RateLimitOptions limit, int permitCount, out TimeSpan retryAfter)
    {
        retryAfter = default;
        if (!limit.IsEnabled)
        {
            return true;
        }

        var maxRequests = limit.MaxRequests.GetValueOrDefault(int.MaxValue);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(permitCount, maxRequests);
        var length = WindowLength(limit);

        // A window whose coarse age is below this certainly runs (see the remarks on this class).
        var surelyRunningMs = limit.WindowMs - (limit.WindowMs / RateLimitConstants.CoarseClockDriftDivisor) - RateLimitConstants.CoarseClockSlackMs;

        while (true)
        {
            var windows = Volatile.Read(ref _windows);
            OnTableRead?.Invoke();
            if (!windows.TryGetValue(resource, out var window))
            {
                window = windows.GetOrAdd(resource, static (key, previous) => previous is not null && previous.TryGetValue(key, out var moved) ? moved : new Window(), Volatile.Read(ref _previous));

                // The window is in the table before this request reads whether the table is still current: a sweep
                // that replaces the table publishes the new one before it copies the old one, so either the sweep's
                // copy finds this window or this request sees the new table.
                Interlocked.MemoryBarrier();
            }

            if (!ReferenceEquals(windows, Volatile.Read(ref _windows)))
            {
                continue; // the table was replaced: count in the caller's window in the new one
            }

            switch (TryAcquireIn(window, permitCount, maxRequests, length, surelyRunningMs, out retryAfter))
            {
                case Outcome.Admitted:
                    return true;
                case Outcome.Rejected:
                    return false;
                default:
                    // Swept between the lookup and now: count in its successor. A request that took the window from a
                    // replaced table may have put it back into the current one after the sweep: take it out.
                    windows.TryRemove(new KeyValuePair<CallerKey, Window>(resource, window));
                    continue;
            }
        }
    }

    /// <summary>
    /// Counts in <paramref name="window"/> without a lock: a compare-and-swap on the running window's count, or on the
    /// window itself to open the next one. Concurrent requests of one caller (many connections of one upstream
    /// service) then never wait for each other, and a rejection writes nothing.
    /// </summary>
    private Outcome TryAcquireIn(Window window, int permitCount, int maxRequests, long length, long surelyRunningMs, out TimeSpan retryAfter)
    {
        retryAfter = default;
        while (true)
        {
            var current = Volatile.Read(ref window.Current);
            if (ReferenceEquals(current, WindowCount.Removed))
            {
                return Outcome.Removed;
            }

            // A window with room left, far from its end by the coarse clock: counted without the precise one. A full
            // window is left to the precise clock at once: it either ended or rejects with the exact time left.
            if (current is not null
                && maxRequests - Volatile.Read(ref current.Count) >= permitCount
                && CoarseMilliseconds is { } coarse
                && coarse() - current.CoarseStart < surelyRunningMs
                && TryCount(current, permitCount, maxRequests))
            {
                return Outcome.Admitted;
            }

            var now = _time.GetTimestamp();
            if (current is null || now - current.Start >= length)
            {
                if (permitCount == 0)
                {
                    return Outcome.Admitted;
                }

                // The first request after the end opens the next window; of concurrent ones, one opens it and the
                // others count in it.
                var next = new WindowCount(now, CoarseMilliseconds?.Invoke() ?? 0, permitCount);
                if (ReferenceEquals(Interlocked.CompareExchange(ref window.Current, next, current), current))
                {
                    return Outcome.Admitted;
                }

                continue;
            }

            if (TryCount(current, permitCount, maxRequests))
            {
                return Outcome.Admitted;
            }

            retryAfter = _time.GetElapsedTime(now, current.Start + length);
            return Outcome.Rejected;
        }
    }

    /// <summary>Adds <paramref name="permitCount"/> to the count of a running window, unless that passes <paramref name="maxRequests"/>.</summary>
    private static bool TryCount(WindowCount current, int permitCount, int maxRequests)
    {
        var count = Volatile.Read(ref current.Count);
        while (maxRequests - count >= permitCount)
        {
            var seen = Interlocked.CompareExchange(ref current.Count, count + permitCount, count);
            if (seen == count)
            {
                return true;
            }

            count = seen;
        }

        return false;
    }

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(CallerKey resource, int permitCount, CancellationToken cancellationToken)
    {
        // A fixed window has no queue: waiting for the next window is the caller's decision, told by RetryAfter.
        cancellationToken.ThrowIfCancellationRequested();
        return new ValueTask<RateLimitLease>(AttemptAcquireCore(resource, permitCount));
    }

    /// <summary>
    /// Drops the partitions whose window has ended; a later request of that caller opens a fresh window anyway. When
    /// fewer than a quarter of the partitions the table grew to are left, and it grew to at least
    /// <see cref="RateLimitConstants.PartitionTableShrinkMinimum"/>, the survivors move to a new, small table.
    /// </summary>
    internal void RemoveIdlePartitions()
    {
        lock (_sweepLock)
        {
            var length = WindowLength(_options.CurrentValue.Resilience.RateLimit);
            var now = _time.GetTimestamp();
            var windows = _windows;
            var seen = 0;
            var left = 0;
            foreach (var entry in windows)
            {
                seen++;
                var window = entry.Value;
                var current = Volatile.Read(ref window.Current);
                if (current is not null && !ReferenceEquals(current, WindowCount.Removed) && now - current.Start < length)
                {
                    left++;
                    continue;
                }

                OnEndedWindowFound?.Invoke();

                // Marked removed only if no request opened a new window since it was read: such a request counts in
                // this window, which then stays.
                if (!ReferenceEquals(current, WindowCount.Removed)
                    && !ReferenceEquals(Interlocked.CompareExchange(ref window.Current, WindowCount.Removed, current), current))
                {
                    left++;
                    continue;
                }

                windows.TryRemove(entry);
            }

            _highWater = Math.Max(_highWater, seen);
            if (_highWater >= RateLimitConstants.PartitionTableShrinkMinimum && left < _highWater / 4)
            {
                ReplaceTable(windows);
            }
        }
    }

    /// <summary>Moves the windows of <paramref name="old"/> into a new table sized for them (see the remarks on this class).</summary>
    private void ReplaceTable(ConcurrentDictionary<CallerKey, Window> old)
    {
        var fresh = new ConcurrentDictionary<CallerKey, Window>();
        Volatile.Write(ref _previous, old);
        Interlocked.Exchange(ref _windows, fresh);
        OnTablePublished?.Invoke();
        foreach (var entry in old)
        {
            fresh.TryAdd(entry.Key, entry.Value);
        }

        Volatile.Write(ref _previous, null);
        _highWater = fresh.Count;
    }

    private Window? Find(CallerKey resource)
    {
        if (Volatile.Read(ref _windows).TryGetValue(resource, out var window))
        {
            return window;
        }

        return Volatile.Read(ref _previous) is { } previous && previous.TryGetValue(resource, out window) ? window : null;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _sweepTimer.Dispose();
        }

        base.Dispose(disposing);
    }

    protected override async ValueTask DisposeAsyncCore()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _sweepTimer.DisposeAsync().ConfigureAwait(false);
        }
    }

    // The frequency is read once: a time provider's does not change.
    private long WindowLength(RateLimitOptions limit) => limit.WindowMs * _timestampFrequency / 1000;

    private enum Outcome
    {
        Admitted,
        Rejected,
        Removed,
    }

    /// <summary>
    /// One caller's partition: its running window, replaced by a compare-and-swap when the next one opens, or
    /// <see cref="WindowCount.Removed"/> once a sweep dropped the partition.
    /// </summary>
    private sealed class Window
    {
        public WindowCount? Current;
    }

    /// <summary>
    /// A window that opened at <see cref="Start"/> (a timestamp; <see cref="CoarseStart"/> on the coarse clock) and has
    /// admitted <see cref="Count"/> permits.
    /// </summary>
    private sealed class WindowCount(long start, long coarseStart, int count)
    {
        /// <summary>Marks a partition a sweep dropped: a request that still holds it counts in a new one.</summary>
        public static readonly WindowCount Removed = new(long.MinValue, long.MinValue, 0);

        public readonly long Start = start;
        public readonly long CoarseStart = coarseStart;
        public int Count = count;
    }
}
