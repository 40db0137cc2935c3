namespace Mesh.AspNetCore.Telemetry.Internal;

/// <summary>One point of a service's latency chart: the calls that ended in one window, with their p50 and p99.</summary>
/// <param name="Sequence">Increases by one per point of the service, so a stream sends each point once.</param>
/// <param name="At">The end of the window.</param>
/// <param name="Calls">Calls that ended in the window.</param>
/// <param name="P50Ms">Their median duration in milliseconds; 0 without calls.</param>
/// <param name="P99Ms">Their 99th percentile duration in milliseconds; 0 without calls.</param>
internal readonly record struct LatencyPoint(long Sequence, DateTimeOffset At, long Calls, double P50Ms, double P99Ms);

/// <summary>
/// The latency chart's data: every <see cref="DashboardConstants.LatencyWindow"/>, the p50 and p99 of the calls each service
/// completed in that window (the difference of its latency histogram since the previous window), the last
/// <see cref="DashboardConstants.LatencyHistoryLength"/> windows kept. Sampling starts when the dashboard is mapped.
/// </summary>
internal sealed class DashboardLatencyHistory(MeshMetrics metrics, TimeProvider timeProvider) : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ServiceHistory> _services = new(StringComparer.Ordinal);
    private ITimer? _timer;
    private bool _disposed;

    /// <summary>Starts sampling, once; the calls made so far are the baseline and do not appear in the first window.</summary>
    public void Start()
    {
        lock (_lock)
        {
            if (_timer is not null || _disposed)
            {
                return;
            }

            SampleLocked(emit: false);
            _timer = timeProvider.CreateTimer(
                static state => ((DashboardLatencyHistory)state!).Sample(),
                this,
                DashboardConstants.LatencyWindow,
                DashboardConstants.LatencyWindow);
        }
    }

    /// <summary>Closes the current window of every service.</summary>
    public void Sample()
    {
        lock (_lock)
        {
            if (!_disposed)
            {
                SampleLocked(emit: true);
            }
        }
    }

    /// <summary>Copies the points of <paramref name="serviceId"/> newer than <paramref name="afterSequence"/>, oldest first.</summary>
    public int CopyPoints(string serviceId, long afterSequence, Span<LatencyPoint> destination)
    {
        lock (_lock)
        {
            if (!_services.TryGetValue(serviceId, out var history))
            {
                return 0;
            }

            var copied = 0;
            var first = history.NextSequence - history.Count;
            for (var sequence = Math.Max(first, afterSequence + 1); sequence < history.NextSequence; sequence++)
            {
                destination[copied++] = history.Points[sequence % DashboardConstants.LatencyHistoryLength];
            }

            return copied;
        }
    }

    public void Dispose()
    {
        ITimer? timer;
        lock (_lock)
        {
            _disposed = true;
            timer = _timer;
            _timer = null;
        }

        timer?.Dispose();
    }

    private void SampleLocked(bool emit)
    {
        var now = timeProvider.GetUtcNow();
        foreach (var (serviceId, stats) in metrics.RecordedServices)
        {
            if (!_services.TryGetValue(serviceId, out var history))
            {
                // A service first seen after the baseline made all its calls within this window.
                history = new ServiceHistory();
                _services.Add(serviceId, history);
            }

            var current = new LatencySummary();
            stats.Latency.AddTo(current);
            if (emit)
            {
                history.Add(now, Difference(current, history.Previous));
            }

            history.Previous = current;
        }
    }

    private static LatencySummary Difference(LatencySummary current, LatencySummary? previous)
    {
        if (previous is null)
        {
            return current;
        }

        var window = new LatencySummary { SumTicks = current.SumTicks - previous.SumTicks };
        for (var i = 0; i < window.Buckets.Length; i++)
        {
            var count = current.Buckets[i] - previous.Buckets[i];
            window.Buckets[i] = count;
            window.Count += count;
        }

        return window;
    }

    private sealed class ServiceHistory
    {
        public LatencyPoint[] Points { get; } = new LatencyPoint[DashboardConstants.LatencyHistoryLength];

        public long NextSequence { get; private set; } = 1;

        public int Count { get; private set; }

        public LatencySummary? Previous { get; set; }

        public void Add(DateTimeOffset at, LatencySummary window)
        {
            Points[NextSequence % DashboardConstants.LatencyHistoryLength] = new LatencyPoint(
                NextSequence, at, window.Count, window.PercentileMilliseconds(0.50), window.PercentileMilliseconds(0.99));
            NextSequence++;
            Count = Math.Min(Count + 1, DashboardConstants.LatencyHistoryLength);
        }
    }
}
