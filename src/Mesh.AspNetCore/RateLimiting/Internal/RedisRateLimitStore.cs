using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>
/// The counts in a Redis-compatible store (<c>Store: Redis</c>), shared by every replica with the same
/// <c>Mesh:ServiceId</c>. One script per request counts the request in the partition's key and returns the count and
/// the key's time to live: the window opens at the partition's first request on any replica and its end comes from the
/// store's clock. A partition found spent is remembered until its window ends, so its next requests are rejected here
/// without a round trip. While the store does not answer within <c>Mesh:Redis:TimeoutMs</c>, requests are decided by
/// <c>OnStoreFailure</c> at once; one request every <see cref="RedisStoreConstants.ProbeIntervalMs"/> asks the store
/// again, and the first answer ends the outage. The outage and its end are logged once each: only a request sent after
/// the last change of state can change it again, so late answers (or late failures) of requests sent before an outage
/// began (or ended) do not end (or start) one.
/// </summary>
internal sealed partial class RedisRateLimitStore : IRateLimitStore, IDisposable, IAsyncDisposable
{
    /// <summary>
    /// KEYS[1]: the partition's key; ARGV[1]: the window in milliseconds. Returns { count, milliseconds left }.
    /// A key without a time to live (written by something else) or one longer than the window (the window was shortened
    /// by a reload) gets the window's.
    /// </summary>
    internal const string Script = """
        local count = redis.call('INCR', KEYS[1])
        local window = tonumber(ARGV[1])
        local ttl = redis.call('PTTL', KEYS[1])
        if count == 1 or ttl < 0 or ttl > window then
          redis.call('PEXPIRE', KEYS[1], window)
          ttl = window
        end
        return { count, ttl }
        """;

    private readonly RedisConnection _connection;
    private readonly MeshRateLimiter _localLimiter;
    private readonly IOptionsMonitor<SecureMeshOptions> _options;
    private readonly TimeProvider _time;
    private readonly RateLimitStoreMetrics _metrics;
    private readonly ILogger<RedisRateLimitStore> _logger;
    private readonly SpentPartitions _spent;
    private readonly ITimer _sweepTimer;
    private readonly IDisposable? _reloadSubscription;
    private readonly Action<Task> _observe;

    // Counts the changes of state: even while the store answers, odd during an outage.
    private long _generation;
    private long _nextProbe;

    public RedisRateLimitStore(
        RedisConnection connection,
        MeshRateLimiter localLimiter,
        IOptionsMonitor<SecureMeshOptions> options,
        TimeProvider time,
        RateLimitStoreMetrics metrics,
        ILogger<RedisRateLimitStore> logger)
    {
        _connection = connection;
        _localLimiter = localLimiter;
        _options = options;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _spent = new SpentPartitions(time);
        _observe = ObserveFault;
        var interval = TimeSpan.FromMilliseconds(RateLimitConstants.SweepIntervalMs);
        _sweepTimer = time.CreateTimer(static state => ((RedisRateLimitStore)state!).RemoveEnded(), this, interval, interval);

        // New limits may admit a partition that was spent under the old ones.
        _reloadSubscription = options.OnChange(_ => _spent.Clear());
    }

    /// <summary>Partitions remembered as spent.</summary>
    internal int SpentCount => _spent.Count;

    /// <summary>Whether the store is failing at the moment (an outage was logged and has not ended).</summary>
    internal bool IsFailing => IsOutage(Volatile.Read(ref _generation));

    /// <summary>Raised after an outage began (<see langword="true"/>) or ended (<see langword="false"/>), after it was logged.</summary>
    internal event Action<bool>? FailingChanged;

    public ValueTask<RateLimitDecision> AcquireAsync(CallerKey partition, RateLimitOptions limit)
    {
        var now = _time.GetTimestamp();
        if (_spent.TryGetRetryAfter(partition, now, out var retryAfter))
        {
            return new(RateLimitDecision.Rejected(retryAfter));
        }

        var generation = Volatile.Read(ref _generation);
        if (IsOutage(generation) && !TryStartProbe(now))
        {
            return new(Fallback(partition, limit));
        }

        return AskStoreAsync(partition, limit, now, generation);
    }

    /// <summary>The key of a partition: <c>{KeyPrefix}{ServiceId}:{partition}</c>, the partition as a hash tag.</summary>
    internal static string KeyOf(SecureMeshOptions options, CallerKey partition) =>
        string.Concat(options.Redis.KeyPrefix, options.ServiceId, ":{", partition.ToStoreName(), "}");

    private async ValueTask<RateLimitDecision> AskStoreAsync(CallerKey partition, RateLimitOptions limit, long started, long generation)
    {
        var options = _options.CurrentValue;
        var timeout = TimeSpan.FromMilliseconds(options.Redis.TimeoutMs);
        Task? pending = null;
        try
        {
            var connecting = _connection.GetAsync();
            if (!connecting.IsCompletedSuccessfully)
            {
                pending = connecting;
                await connecting.WaitAsync(timeout, _time).ConfigureAwait(false);
            }

            var database = connecting.Result.GetDatabase();
            var evaluating = database.ScriptEvaluateAsync(
                Script,
                [new RedisKey(KeyOf(options, partition))],
                [limit.WindowMs]);
            pending = evaluating;
            var left = timeout - _time.GetElapsedTime(started);
            if (!evaluating.IsCompleted && left <= TimeSpan.Zero)
            {
                throw new TimeoutException("The connection to the store took the whole of Mesh:Redis:TimeoutMs.");
            }

            var result = evaluating.IsCompleted
                ? await evaluating.ConfigureAwait(false)
                : await evaluating.WaitAsync(left, _time).ConfigureAwait(false);
            var count = (long)result[0];
            var ttlMs = (long)result[1];
            StoreAnswered(generation);
            if (count <= limit.MaxRequests.GetValueOrDefault(int.MaxValue))
            {
                return RateLimitDecision.Admitted;
            }

            ttlMs = Math.Max(0, ttlMs);
            _spent.Remember(partition, _time.GetTimestamp() + (ttlMs * _time.TimestampFrequency / 1000));
            return RateLimitDecision.Rejected(TimeSpan.FromMilliseconds(ttlMs));
        }
        catch (Exception ex)
        {
            // Whatever went wrong with the store (refused, timed out, disconnected, an unexpected reply), the request
            // is decided by the fallback: the store never fails a request.
            if (pending is { IsCompleted: false })
            {
                _ = pending.ContinueWith(_observe, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            StoreFailed(ex, limit.OnStoreFailure, generation);
            return Fallback(partition, limit);
        }
    }

    private RateLimitDecision Fallback(CallerKey partition, RateLimitOptions limit) => limit.OnStoreFailure switch
    {
        RateLimitStoreFailureMode.Allow => RateLimitDecision.Admitted,
        RateLimitStoreFailureMode.Reject => RateLimitDecision.Rejected(TimeSpan.FromMilliseconds(RedisStoreConstants.StoreFailureRetryAfterMs)),
        _ => _localLimiter.TryAcquire(partition, limit, out var retryAfter) ? RateLimitDecision.Admitted : RateLimitDecision.Rejected(retryAfter),
    };

    private bool TryStartProbe(long now)
    {
        var next = Volatile.Read(ref _nextProbe);
        return now >= next && Interlocked.CompareExchange(ref _nextProbe, now + ProbeInterval(), next) == next;
    }

    private long ProbeInterval() => RedisStoreConstants.ProbeIntervalMs * _time.TimestampFrequency / 1000;

    private static bool IsOutage(long generation) => (generation & 1) != 0;

    /// <summary>
    /// Counts a failed request. A request sent while the store answered starts an outage, unless one began (or began
    /// and ended) since it was sent; <paramref name="generation"/> is the state when it was sent.
    /// </summary>
    private void StoreFailed(Exception exception, RateLimitStoreFailureMode fallback, long generation)
    {
        _metrics.StoreFailed(fallback);
        if (IsOutage(generation))
        {
            // A probe failed: the outage goes on.
            Volatile.Write(ref _nextProbe, _time.GetTimestamp() + ProbeInterval());
            return;
        }

        if (Interlocked.CompareExchange(ref _generation, generation + 1, generation) == generation)
        {
            Volatile.Write(ref _nextProbe, _time.GetTimestamp() + ProbeInterval());
            LogStoreDown(_logger, _options.CurrentValue.Redis.TimeoutMs, fallback, exception);
            FailingChanged?.Invoke(true);
        }
    }

    /// <summary>
    /// Only a request sent during the outage (a probe) ends it, not the late answer of one sent before it began;
    /// <paramref name="generation"/> is the state when it was sent.
    /// </summary>
    private void StoreAnswered(long generation)
    {
        if (IsOutage(generation) && Interlocked.CompareExchange(ref _generation, generation + 1, generation) == generation)
        {
            LogStoreBack(_logger);
            FailingChanged?.Invoke(false);
        }
    }

    private void RemoveEnded() => _spent.RemoveEnded(_time.GetTimestamp());

    private static void ObserveFault(Task task) => _ = task.Exception;

    public void Dispose()
    {
        _reloadSubscription?.Dispose();
        _sweepTimer.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(EventId = 2010, EventName = "RateLimitStoreDown", Level = LogLevel.Warning,
        Message = "The shared rate-limit store did not answer within {TimeoutMs} ms; requests are decided by OnStoreFailure '{Fallback}' until it answers again.")]
    private static partial void LogStoreDown(ILogger logger, int timeoutMs, RateLimitStoreFailureMode fallback, Exception exception);

    [LoggerMessage(EventId = 2011, EventName = "RateLimitStoreBack", Level = LogLevel.Information,
        Message = "The shared rate-limit store answers again; the quota is shared by every replica again.")]
    private static partial void LogStoreBack(ILogger logger);
}
