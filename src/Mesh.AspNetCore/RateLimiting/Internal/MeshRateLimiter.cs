using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>
/// A fixed-window limiter with one window per caller: a caller's window opens at its first request, admits
/// <c>MaxRequests</c> requests, and ends <c>WindowMs</c> later; the next request after that opens a new window.
/// Time comes from the injected <see cref="TimeProvider"/>. The limits are read from
/// <see cref="IOptionsMonitor{TOptions}"/> on every request, so a reload applies at once: counts made in a running
/// window are kept and compared with the new <c>MaxRequests</c>, and the new <c>WindowMs</c> decides when running
/// windows end. Partitions whose window has ended are dropped every <see cref="RateLimitConstants.SweepIntervalMs"/>.
/// </summary>
/// <remarks>
/// <c>FixedWindowRateLimiter</c> is not used: it cannot take a <see cref="TimeProvider"/> and its
/// <c>RetryAfter</c> metadata is not the time left in the window (dotnet/runtime 106447, 92557).
/// </remarks>
internal sealed class MeshRateLimiter : PartitionedRateLimiter<CallerKey>
{
    private readonly ConcurrentDictionary<CallerKey, Window> _windows = new();
    private readonly IOptionsMonitor<SecureMeshOptions> _options;
    private readonly TimeProvider _time;
    private readonly ITimer _sweepTimer;
    private int _disposed;

    public MeshRateLimiter(IOptionsMonitor<SecureMeshOptions> options, TimeProvider time)
    {
        _options = options;
        _time = time;
        var interval = TimeSpan.FromMilliseconds(RateLimitConstants.SweepIntervalMs);
        _sweepTimer = time.CreateTimer(static state => ((MeshRateLimiter)state!).RemoveIdlePartitions(), this, interval, interval);
    }

    /// <summary>The number of live partitions (callers with a window that has not been swept yet).</summary>
    internal int PartitionCount => _windows.Count;

    public override RateLimiterStatistics? GetStatistics(CallerKey resource)
    {
        var limit = _options.CurrentValue.Resilience.RateLimit;
        var available = limit.MaxRequests ?? int.MaxValue;
        if (limit.IsEnabled && _windows.TryGetValue(resource, out var window))
        {
            lock (window)
            {
                if (!HasEnded(window, _time.GetTimestamp(), WindowLength(limit)))
                {
                    available = Math.Max(0, available - window.Count);
                }
            }
        }

        return new RateLimiterStatistics { CurrentAvailablePermits = available };
    }

    protected override RateLimitLease AttemptAcquireCore(CallerKey resource, int permitCount) =>
        TryAcquire(resource, permitCount, out var retryAfter) ? AcquiredLease.Instance : new RejectedLease(retryAfter);

    /// <summary>
    /// Takes one permit from <paramref name="resource"/>'s window, or gives the time until the window admits again.
    /// The per-request path of the inbound gate: unlike <see cref="PartitionedRateLimiter{TResource}.AttemptAcquire"/>
    /// it creates no lease, so a rejection allocates nothing either.
    /// </summary>
    internal bool TryAcquire(CallerKey resource, out TimeSpan retryAfter) => TryAcquire(resource, 1, out retryAfter);

    private bool TryAcquire(CallerKey resource, int permitCount, out TimeSpan retryAfter)
    {
        retryAfter = default;
        var limit = _options.CurrentValue.Resilience.RateLimit;
        if (!limit.IsEnabled)
        {
            return true;
        }

        var maxRequests = limit.MaxRequests.GetValueOrDefault(int.MaxValue);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(permitCount, maxRequests);
        var length = WindowLength(limit);

        while (true)
        {
            if (!_windows.TryGetValue(resource, out var window))
            {
                window = _windows.GetOrAdd(resource, static _ => new Window());
            }
            else if (permitCount > 0 && Volatile.Read(ref window.Spent) is { } spent && ReferenceEquals(spent.Limit, limit))
            {
                // A caller known to be spent is rejected without the window's lock: under a flood every request of
                // that caller would otherwise queue on it. The window cannot restart before spent.Until, and a reload
                // of the limits makes a new options instance, which sends the request down the locked path again.
                var now = _time.GetTimestamp();
                if (now < spent.Until)
                {
                    retryAfter = _time.GetElapsedTime(now, spent.Until);
                    return false;
                }
            }

            lock (window)
            {
                if (window.Removed)
                {
                    continue; // swept between the lookup and the lock: count in its successor
                }

                var now = _time.GetTimestamp();
                if (HasEnded(window, now, length))
                {
                    if (permitCount == 0)
                    {
                        return true;
                    }

                    window.Start = now;
                    window.Count = 0;
                }

                if (maxRequests - window.Count >= permitCount)
                {
                    window.Count += permitCount;
                    return true;
                }

                var until = window.Start + length;
                if (window.Spent is not { } known || known.Until != until || !ReferenceEquals(known.Limit, limit))
                {
                    Volatile.Write(ref window.Spent, new SpentWindow(until, limit));
                }

                retryAfter = _time.GetElapsedTime(now, until);
                return false;
            }
        }
    }

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(CallerKey resource, int permitCount, CancellationToken cancellationToken)
    {
        // A fixed window has no queue: waiting for the next window is the caller's decision, told by RetryAfter.
        cancellationToken.ThrowIfCancellationRequested();
        return new ValueTask<RateLimitLease>(AttemptAcquireCore(resource, permitCount));
    }

    /// <summary>Drops the partitions whose window has ended; a later request of that caller opens a fresh window anyway.</summary>
    internal void RemoveIdlePartitions()
    {
        var length = WindowLength(_options.CurrentValue.Resilience.RateLimit);
        var now = _time.GetTimestamp();
        foreach (var entry in _windows)
        {
            var window = entry.Value;
            lock (window)
            {
                if (!HasEnded(window, now, length))
                {
                    continue;
                }

                window.Removed = true;
            }

            _windows.TryRemove(entry);
        }
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

    private static bool HasEnded(Window window, long now, long length) => window.Count == 0 || now - window.Start >= length;

    private long WindowLength(RateLimitOptions limit) => limit.WindowMs * _time.TimestampFrequency / 1000;

    /// <summary>One caller's current window. Guarded by its own monitor, except <see cref="Spent"/>, which is read without it.</summary>
    private sealed class Window
    {
        public long Start;
        public int Count;
        public bool Removed;

        /// <summary>Set when a request was rejected: until when this window rejects, under which limits.</summary>
        public SpentWindow? Spent;
    }

    /// <summary>A window that rejects every request until <see cref="Until"/> (a timestamp), as long as <see cref="Limit"/> is in force.</summary>
    private sealed record SpentWindow(long Until, RateLimitOptions Limit);
}
