using System.Globalization;
using Grpc.Core;
using Mesh.AspNetCore.Telemetry.Internal;
using Polly;
using Polly.Retry;

namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>
/// Builds Polly's retry strategy with the mesh's semantics: retried by the attempt's final gRPC status, delays
/// <c>InitialDelay * 2^n</c> capped by <c>MaxDelay</c>, server pushback honoured, never past the call's deadline.
/// </summary>
internal sealed class MeshRetry
{
    public const string PushbackTrailer = "grpc-retry-pushback-ms";
    public const string RetryAfterTrailer = "retry-after";

    // The largest pushback that TimeSpan holds exactly; anything longer is past every MaxDelay anyway.
    private static readonly long MaxPushbackMs = (long)TimeSpan.MaxValue.TotalMilliseconds - 1;

    private readonly bool[] _retryable = new bool[(int)StatusCode.Unauthenticated + 1];
    private readonly TimeSpan _initialDelay;
    private readonly TimeSpan _maxDelay;
    private readonly bool _useJitter;
    private readonly string _serviceId;
    private readonly MeshMetrics _metrics;
    private readonly TimeProvider _timeProvider;

    public MeshRetry(RetryOptions options, string serviceId, MeshMetrics metrics, TimeProvider timeProvider)
    {
        foreach (var status in (IEnumerable<StatusCode>?)options.RetryableStatusCodes ?? RetryConstants.DefaultRetryableStatusCodes)
        {
            if ((uint)status < (uint)_retryable.Length)
            {
                _retryable[(int)status] = true;
            }
        }

        _initialDelay = TimeSpan.FromMilliseconds(options.InitialDelay);
        _maxDelay = TimeSpan.FromMilliseconds(options.MaxDelay);
        _useJitter = options.UseJitter;
        _serviceId = serviceId;
        _metrics = metrics;
        _timeProvider = timeProvider;
        StrategyOptions = new RetryStrategyOptions
        {
            Name = "MeshRetry",
            MaxRetryAttempts = options.MaxAttempts,
            BackoffType = DelayBackoffType.Exponential,
            Delay = _initialDelay,
            MaxDelay = _maxDelay,
            UseJitter = options.UseJitter,
            ShouldHandle = ShouldHandle,
            DelayGenerator = GenerateDelay,
            OnRetry = OnRetry,
        };
    }

    public RetryStrategyOptions StrategyOptions { get; }

    /// <summary>The delay before retry number <paramref name="attempt"/> + 1 without jitter: InitialDelay * 2^attempt, capped.</summary>
    public TimeSpan BackoffDelay(int attempt)
    {
        var ms = _initialDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 62));
        return ms >= _maxDelay.TotalMilliseconds ? _maxDelay : TimeSpan.FromMilliseconds(ms);
    }

    /// <summary>
    /// The server's pushback from the failed attempt's trailers: <c>grpc-retry-pushback-ms</c> (milliseconds) or
    /// <c>retry-after</c> (whole seconds). Returns false when the server asked not to retry (negative pushback).
    /// A value too large for a <see cref="TimeSpan"/> reads as <see cref="TimeSpan.MaxValue"/>: it is input from the
    /// network, and the caller compares it with <c>MaxDelay</c> and the deadline rather than trusting it.
    /// </summary>
    public static bool TryGetPushback(Metadata? trailers, out TimeSpan? pushback)
    {
        pushback = null;
        if (trailers is null)
        {
            return true;
        }

        if (trailers.GetValue(PushbackTrailer) is { } pushbackMs)
        {
            if (!long.TryParse(pushbackMs, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms) || ms < 0)
            {
                // gRPC's retry design: a negative or malformed pushback means "do not retry".
                return false;
            }

            pushback = ms > MaxPushbackMs ? TimeSpan.MaxValue : TimeSpan.FromMilliseconds(ms);
        }

        if (trailers.GetValue(RetryAfterTrailer) is { } retryAfter
            && long.TryParse(retryAfter, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds))
        {
            if (seconds < 0)
            {
                return false;
            }

            var delay = seconds > MaxPushbackMs / 1000 ? TimeSpan.MaxValue : TimeSpan.FromSeconds(seconds);
            if (pushback is null || delay > pushback)
            {
                pushback = delay;
            }
        }

        return true;
    }

    private bool IsRetryable(Outcome<object> outcome, ResilienceContext context, out RpcException? failure)
    {
        failure = outcome.Exception as RpcException;
        return failure is not null
            && (uint)failure.StatusCode < (uint)_retryable.Length
            && _retryable[(int)failure.StatusCode]
            && !context.CancellationToken.IsCancellationRequested
            && !(context.Properties.TryGetValue(MeshCircuitBreakerStrategy.RejectionKey, out var rejection) && ReferenceEquals(rejection, failure))
            && (!context.Properties.TryGetValue(MeshCallInfo.Key, out var call) || call.CanRetry);
    }

    private ValueTask<bool> ShouldHandle(RetryPredicateArguments<object> args)
    {
        if (!IsRetryable(args.Outcome, args.Context, out var failure) || !TryGetPushback(failure!.Trailers, out var pushback))
        {
            return new ValueTask<bool>(false);
        }

        // A server's pushback is input from the network: one longer than MaxDelay ends the retries with this status
        // rather than holding the call (and its caller) for as long as the server says.
        if (pushback > _maxDelay)
        {
            return new ValueTask<bool>(false);
        }

        // A retry whose delay ends after the call's deadline would only fail with DeadlineExceeded: the caller gets
        // this attempt's status instead.
        if (args.Context.Properties.TryGetValue(MeshCallInfo.Key, out var call) && call.Deadline is { } deadline)
        {
            var delay = Max(BackoffDelay(args.AttemptNumber), pushback);
            if (deadline - _timeProvider.GetUtcNow().UtcDateTime <= delay)
            {
                return new ValueTask<bool>(false);
            }
        }

        return new ValueTask<bool>(true);
    }

    private ValueTask<TimeSpan?> GenerateDelay(RetryDelayGeneratorArguments<object> args)
    {
        TryGetPushback((args.Outcome.Exception as RpcException)?.Trailers, out var pushback);
        if (_useJitter && pushback is null)
        {
            // Polly's own exponential backoff with decorrelated jitter, capped by MaxDelay.
            return new ValueTask<TimeSpan?>((TimeSpan?)null);
        }

        return new ValueTask<TimeSpan?>(Max(BackoffDelay(args.AttemptNumber), pushback));
    }

    private ValueTask OnRetry(OnRetryArguments<object> args)
    {
        var method = args.Context.Properties.TryGetValue(MeshCallInfo.Key, out var call) ? call.Method : string.Empty;
        var status = (args.Outcome.Exception as RpcException)?.StatusCode ?? StatusCode.Unknown;
        _metrics.RetryScheduled(_serviceId, method, status);
        return default;
    }

    private static TimeSpan Max(TimeSpan delay, TimeSpan? pushback) => pushback is { } p && p > delay ? p : delay;
}
