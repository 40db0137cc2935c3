using System.Globalization;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>
/// The one decision point shared by the gRPC interceptor and the HTTP endpoint filter, so both transports count in
/// the same partitions: resolves the caller, asks the limiter, records the decision and logs rejections.
/// </summary>
internal sealed partial class InboundRateLimitGate(
    MeshRateLimiter limiter,
    IOptionsMonitor<SecureMeshOptions> options,
    MeshMetrics metrics,
    ILogger<InboundRateLimitGate> logger)
{
    /// <summary>
    /// Decides whether the request may run: resolves its caller, counts it in the caller's window, records the decision
    /// and logs a rejection at Debug. Every caller of the limiter goes through here. The memory store completes
    /// synchronously.
    /// </summary>
    public ValueTask<RateLimitDecision> AdmitAsync(HttpContext context, string transport) =>
        new(TryAdmit(context, transport, out var retryAfter) ? RateLimitDecision.Admitted : RateLimitDecision.Rejected(retryAfter));

    /// <summary>Returns <see langword="true"/> when the request may run; otherwise the time until its caller is admitted again.</summary>
    public bool TryAdmit(HttpContext context, string transport, out TimeSpan retryAfter)
    {
        var limit = options.CurrentValue.Resilience.RateLimit;
        if (!limit.IsEnabled)
        {
            retryAfter = default;
            return true;
        }

        var caller = CallerIdentity.Resolve(context, limit.PartitionBy);
        if (limiter.TryAcquire(caller, out retryAfter))
        {
            metrics.RateLimitDecision(admitted: true, transport);
            return true;
        }

        metrics.RateLimitDecision(admitted: false, transport);
        LogRejected(logger, caller, transport, ToPushbackMilliseconds(retryAfter));
        return false;
    }

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
