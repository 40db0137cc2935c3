using System.Globalization;
using Grpc.Core;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.Retry;

namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>
/// Builds Polly's retry strategy with the mesh's semantics: retried by the attempt's final gRPC status, delays
/// <c>InitialDelay * 2^n</c> capped by <c>MaxDelay</c>, server pushback honoured, never past the call's deadline, only
/// idempotent methods (or requests that never reached a handler) with <c>OnlyIdempotent</c>, and within the service's
/// retry budget.
/// </summary>
/// <remarks>
/// The backoff is waited here (in <c>OnRetry</c>) rather than by Polly, for two reasons: the
/// delay is decided once, jitter included, when the retry is decided, so the deadline check sees the delay that is
/// waited; and the wait ends as soon as the service's circuit breaker opens for longer than the rest of it, so a retry
/// that the open breaker would reject is rejected at once instead of after its whole backoff.
/// </remarks>
internal sealed class MeshRetry
{
    public const string PushbackTrailer = "grpc-retry-pushback-ms";
    public const string RetryAfterTrailer = "retry-after";

    // The largest pushback that TimeSpan holds exactly; anything longer is past every MaxDelay anyway.
    private static readonly long MaxPushbackMs = (long)TimeSpan.MaxValue.TotalMilliseconds - 1;

    private readonly bool[] _retryable = new bool[(int)StatusCode.Unauthenticated + 1];
    private readonly int _maxAttempts;
    private readonly TimeSpan _initialDelay;
    private readonly TimeSpan _maxDelay;
    private readonly bool _useJitter;
    private readonly string _serviceId;
    private readonly MeshMetrics _metrics;
    private readonly TimeProvider _timeProvider;
    private readonly ServiceCircuitBreaker? _breaker;
    private readonly Func<double> _random;
    private readonly ILogger _logger;

    /// <summary>The delay decided for the retry that follows the current failed attempt.</summary>
    private static readonly ResiliencePropertyKey<TimeSpan> DelayKey = new("Mesh.RetryDelay");
    private readonly IdempotencyPolicy? _onlyIdempotent;
    private readonly RetryBudget? _budget;
    private readonly RetryBudgetRegistry? _budgets;

    public MeshRetry(
        RetryOptions options,
        string serviceId,
        MeshMetrics metrics,
        TimeProvider timeProvider,
        IdempotencyPolicy? onlyIdempotent = null,
        RetryBudgetRegistry? budgets = null,
        ServiceCircuitBreaker? breaker = null,
        Func<double>? random = null,
        ILogger? logger = null)
    {
        _onlyIdempotent = options.OnlyIdempotent ? onlyIdempotent : null;
        _budgets = budgets;
        _budget = budgets?.Get(serviceId);
        foreach (var status in (IEnumerable<StatusCode>?)options.RetryableStatusCodes ?? RetryConstants.DefaultRetryableStatusCodes)
        {
            if ((uint)status < (uint)_retryable.Length)
            {
                _retryable[(int)status] = true;
            }
        }

        _maxAttempts = options.MaxAttempts;
        _initialDelay = TimeSpan.FromMilliseconds(options.InitialDelay);
        _maxDelay = TimeSpan.FromMilliseconds(options.MaxDelay);
        _useJitter = options.UseJitter;
        _serviceId = serviceId;
        _metrics = metrics;
        _timeProvider = timeProvider;
        _breaker = breaker;
        _random = random ?? Random.Shared.NextDouble;
        _logger = logger ?? NullLogger.Instance;
        StrategyOptions = new RetryStrategyOptions
        {
            Name = "MeshRetry",
            MaxRetryAttempts = options.MaxAttempts,
            BackoffType = DelayBackoffType.Exponential,
            Delay = _initialDelay,
            MaxDelay = _maxDelay,
            ShouldHandle = ShouldHandle,

            // Polly waits nothing: OnRetry waits the delay decided in ShouldHandle.
            DelayGenerator = static _ => new ValueTask<TimeSpan?>(TimeSpan.Zero),
            OnRetry = OnRetry,
        };
    }

    public RetryStrategyOptions StrategyOptions { get; }

    /// <summary>Cancelled once the application has stopped: no retry is decided, and a backoff being waited ends.</summary>
    public CancellationToken Stopped { get; init; }

    /// <summary>The delay before retry number <paramref name="attempt"/> + 1 without jitter: InitialDelay * 2^attempt, capped.</summary>
    public TimeSpan BackoffDelay(int attempt)
    {
        var ms = _initialDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 62));
        return ms >= _maxDelay.TotalMilliseconds ? _maxDelay : TimeSpan.FromMilliseconds(ms);
    }

    /// <summary>
    /// The delay before retry number <paramref name="attempt"/> + 1: <see cref="BackoffDelay"/>, or with <c>UseJitter</c>
    /// a random value between half of it and all of it (uniform, mean three quarters), so the schedule keeps its
    /// exponential shape and never waits longer than without jitter.
    /// </summary>
    public TimeSpan RetryDelay(int attempt)
    {
        var delay = BackoffDelay(attempt);
        return _useJitter ? TimeSpan.FromTicks((long)(delay.Ticks * (0.5 + (0.5 * _random())))) : delay;
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
            && IsRetryableStatus(failure)
            && !context.CancellationToken.IsCancellationRequested
            && !Stopped.IsCancellationRequested
            && !(context.Properties.TryGetValue(MeshCircuitBreakerStrategy.RejectionKey, out var rejection) && ReferenceEquals(rejection, failure))
            && (!context.Properties.TryGetValue(MeshCallInfo.Key, out var call) || call.CanRetry);
    }

    // A server going away before answering is retried as Unavailable, as gRPC's protocol treats it.
    private bool IsRetryableStatus(RpcException failure)
    {
        var status = ServerGoingAway.Is(failure) ? StatusCode.Unavailable : failure.StatusCode;
        return (uint)status < (uint)_retryable.Length && _retryable[(int)status];
    }

    private ValueTask<bool> ShouldHandle(RetryPredicateArguments<object> args)
    {
        // Polly asks about the last attempt too, though no retry follows it: it must not take from the budget.
        if (args.AttemptNumber >= _maxAttempts)
        {
            return new ValueTask<bool>(false);
        }

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

        var hasCall = args.Context.Properties.TryGetValue(MeshCallInfo.Key, out var call);

        // With OnlyIdempotent, a method that is not idempotent is retried only when its request never reached a handler.
        if (_onlyIdempotent is not null && hasCall && !_onlyIdempotent.IsIdempotent(call!) && !UnhandledRequest.IsProven(failure))
        {
            return new ValueTask<bool>(false);
        }

        // The delay is decided once, jitter included: the deadline check and the wait use the same value.
        var delay = pushback is { } p ? Max(BackoffDelay(args.AttemptNumber), p) : RetryDelay(args.AttemptNumber);

        // A retry whose delay ends after the call's deadline would only fail with DeadlineExceeded: the caller gets
        // this attempt's status instead.
        if (hasCall && call!.Deadline is { } deadline && deadline - _timeProvider.GetUtcNow().UtcDateTime <= delay)
        {
            return new ValueTask<bool>(false);
        }

        // Last, so that only a retry that would otherwise be made takes from the budget.
        if (_budget is not null && !_budgets!.TryRetry(_budget, hasCall ? call!.Method : string.Empty, failure.StatusCode))
        {
            return new ValueTask<bool>(false);
        }

        args.Context.Properties.Set(DelayKey, delay);
        return new ValueTask<bool>(true);
    }

    private async ValueTask OnRetry(OnRetryArguments<object> args)
    {
        var hasCall = args.Context.Properties.TryGetValue(MeshCallInfo.Key, out var call);
        var method = hasCall ? call!.Method : string.Empty;
        var failure = args.Outcome.Exception as RpcException;
        var status = failure?.StatusCode ?? StatusCode.Unknown;
        _metrics.RetryScheduled(_serviceId, method, status);
        var delay = args.Context.Properties.GetValue(DelayKey, TimeSpan.Zero);
        ResilienceInterceptor.LogAttemptFailed(
            _logger, args.AttemptNumber + 1, method, _serviceId, status, failure?.Status.Detail, delay);
        if (delay > TimeSpan.Zero)
        {
            await WaitAsync(delay, args.Context.CancellationToken, hasCall ? call!.Disposal : CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Waits <paramref name="delay"/>, or less: until the caller cancels (Polly then ends the call as cancelled), until
    /// the caller disposes the call or the application stops (the call then refuses to start the next attempt), or
    /// until the service's breaker is open for at least the rest of the wait (the retry then goes on at once, and the
    /// open breaker rejects it without network traffic).
    /// </summary>
    private async ValueTask WaitAsync(TimeSpan delay, CancellationToken callerToken, CancellationToken disposal)
    {
        var start = _timeProvider.GetTimestamp();
        using var ended = disposal.CanBeCanceled || Stopped.CanBeCanceled
            ? CancellationTokenSource.CreateLinkedTokenSource(callerToken, disposal, Stopped)
            : null;
        var cancellationToken = ended?.Token ?? callerToken;
        try
        {
            while (true)
            {
                var left = delay - _timeProvider.GetElapsedTime(start);
                if (left <= TimeSpan.Zero)
                {
                    return;
                }

                if (_breaker is null)
                {
                    await Task.Delay(left, _timeProvider, cancellationToken).ConfigureAwait(false);
                    return;
                }

                // Taken before the state is read, so an opening between the two is not missed.
                var opened = _breaker.NextOpening;
                if (_breaker.RejectsFor(_timeProvider) >= left)
                {
                    return;
                }

                using var sleep = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var timer = Task.Delay(left, _timeProvider, sleep.Token);
                if (await Task.WhenAny(timer, opened).ConfigureAwait(false) == timer)
                {
                    await timer.ConfigureAwait(false);
                    return;
                }

                await sleep.CancelAsync().ConfigureAwait(false);
                await timer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Polly sees the caller's cancelled token and ends the call without another attempt; a disposed call or a
            // stopped application makes the call refuse to start it.
        }
    }

    private static TimeSpan Max(TimeSpan delay, TimeSpan? pushback) => pushback is { } p && p > delay ? p : delay;
}
