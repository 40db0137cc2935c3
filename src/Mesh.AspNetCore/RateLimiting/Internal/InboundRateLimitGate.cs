using System.Globalization;
using Mesh.AspNetCore.Identity.Internal;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>
/// The one decision point of every limited endpoint, gRPC and HTTP (<see cref="RateLimitedEndpoint"/>), so both
/// transports count in the same partitions: resolves the caller, asks the configured store (<c>Store: Memory</c> or
/// <c>Redis</c>), records the decision and logs rejections.
/// </summary>
internal sealed partial class InboundRateLimitGate : IDisposable
{
    private readonly MemoryRateLimitStore _memoryStore;
    private readonly RedisRateLimitStore _redisStore;
    private readonly MeshMetrics _metrics;
    private readonly MeshServerTls _tls;
    private readonly ILogger<InboundRateLimitGate> _logger;
    private readonly IDisposable? _reloadSubscription;

    // The limits in force, kept from the last (validated) reload rather than looked up in the options monitor's cache
    // on every request.
    private RateLimitOptions _limit;

    public InboundRateLimitGate(
        MemoryRateLimitStore memoryStore,
        RedisRateLimitStore redisStore,
        IOptionsMonitor<SecureMeshOptions> options,
        MeshMetrics metrics,
        MeshServerTls tls,
        ILogger<InboundRateLimitGate> logger)
    {
        _memoryStore = memoryStore;
        _redisStore = redisStore;
        _metrics = metrics;
        _tls = tls;
        _logger = logger;
        _limit = options.CurrentValue.Resilience.RateLimit;
        _reloadSubscription = options.OnChange(reloaded => Volatile.Write(ref _limit, reloaded.Resilience.RateLimit));
    }

    /// <summary>
    /// Decides whether the request may run; a rejection carries the time until its caller is admitted again. Completes
    /// synchronously with the memory store, and with the shared store when the caller is known to be spent.
    /// </summary>
    public ValueTask<RateLimitDecision> AdmitAsync(HttpContext context, string transport)
    {
        var limit = Volatile.Read(ref _limit);
        if (!limit.IsEnabled)
        {
            return new(RateLimitDecision.Admitted);
        }

        var caller = CallerIdentity.Resolve(context, limit.PartitionBy, _tls.IsApplied);
        if (limit.Store != RateLimitStore.Redis)
        {
            return new(Record(_memoryStore.Acquire(caller, limit), caller, transport));
        }

        var pending = _redisStore.AcquireAsync(caller, limit);
        return pending.IsCompletedSuccessfully
            ? new(Record(pending.Result, caller, transport))
            : RecordAsync(pending, caller, transport);
    }

    /// <summary>
    /// The synchronous decision of the memory store. Returns <see langword="true"/> when the request may run; otherwise
    /// the time until its caller is admitted again. With <c>Store: Redis</c> it waits for the store; use <see cref="AdmitAsync"/>.
    /// </summary>
    public bool TryAdmit(HttpContext context, string transport, out TimeSpan retryAfter)
    {
        var pending = AdmitAsync(context, transport);
        var decision = pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
        retryAfter = decision.RetryAfter;
        return decision.IsAdmitted;
    }

    private async ValueTask<RateLimitDecision> RecordAsync(ValueTask<RateLimitDecision> pending, CallerKey caller, string transport) =>
        Record(await pending.ConfigureAwait(false), caller, transport);

    private RateLimitDecision Record(RateLimitDecision decision, CallerKey caller, string transport)
    {
        _metrics.RateLimitDecision(decision.IsAdmitted, transport);
        if (!decision.IsAdmitted)
        {
            LogRejected(_logger, caller, transport, ToPushbackMilliseconds(decision.RetryAfter));
        }

        return decision;
    }

    public void Dispose() => _reloadSubscription?.Dispose();

    /// <summary>Whole seconds to wait, rounded up, at least 1: the <c>retry-after</c> value.</summary>
    public static long ToRetryAfterSeconds(TimeSpan retryAfter) =>
        Math.Max(1, (retryAfter.Ticks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond);

    /// <summary>Milliseconds to wait, rounded up, at least 1: the <c>grpc-retry-pushback-ms</c> value.</summary>
    public static long ToPushbackMilliseconds(TimeSpan retryAfter) =>
        Math.Max(1, (retryAfter.Ticks + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond);

    /// <summary>The rejection message of both transports: <c>Rate limit exceeded. Retry after {n}s</c>.</summary>
    public static string RejectionMessage(long retryAfterSeconds) =>
        string.Create(CultureInfo.InvariantCulture, $"Rate limit exceeded. Retry after {retryAfterSeconds}s");

    // Debug, not Information: under a flood every rejected request would otherwise write a log line.
    [LoggerMessage(EventId = 2001, EventName = "RateLimitRejected", Level = LogLevel.Debug,
        Message = "Rate limit exceeded for {Caller} ({Transport}); retry after {RetryAfterMs} ms.")]
    private static partial void LogRejected(ILogger logger, CallerKey caller, string transport, long retryAfterMs);
}
