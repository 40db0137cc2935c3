using System.Globalization;
using Grpc.Core;

namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>How one attempt ended, as far as the circuit breaker is concerned.</summary>
internal enum AttemptResult
{
    /// <summary>The service answered: OK, or a status that is not a failure (such as a caller error).</summary>
    Success,

    /// <summary>The attempt ended with one of the failure statuses.</summary>
    Failure,

    /// <summary>The caller cancelled: says nothing about the service's health.</summary>
    Neutral,
}

/// <summary>Admission granted by <see cref="ServiceCircuitBreaker.TryEnter"/>; outcomes of an older period are ignored.</summary>
internal readonly record struct CircuitTicket(long Generation);

/// <summary>A state change of a breaker, raised while its lock is held, so that observers see the changes in their order.</summary>
internal readonly record struct CircuitTransition(CircuitState From, CircuitState To, StatusCode Status, int Failures, TimeSpan BreakDuration)
{
    public bool HasValue => From != To;
}

/// <summary>
/// The state of the circuit breaker of one target service: consecutive failures, open period, half-open trials.
/// Lives in <see cref="CircuitBreakerRegistry"/> for the application's lifetime, so rebuilding the call pipeline after a
/// configuration reload keeps it. Settings and the pipeline's time provider are passed per call, so reloaded thresholds apply at once.
/// </summary>
internal sealed class ServiceCircuitBreaker(string serviceId, TimeProvider timeProvider, Action<string, CircuitTransition> onTransition)
{
    private readonly Lock _lock = new();
    private CircuitState _state;
    private long _generation;
    private int _consecutiveFailures;
    private int _trialsInFlight;
    private int _trialSuccesses;
    private long _openedAt;
    private TimeSpan _openFor;
    private RejectionText? _rejectionText;
    private TaskCompletionSource? _nextOpening;

    public string ServiceId { get; } = serviceId;

    /// <summary>The state a caller would see now: an open breaker whose timeout has elapsed reads half-open.</summary>
    public CircuitState State
    {
        get
        {
            lock (_lock)
            {
                return _state == CircuitState.Open && timeProvider.GetElapsedTime(_openedAt) >= _openFor ? CircuitState.HalfOpen : _state;
            }
        }
    }

    /// <summary>Completes when the breaker next opens (or opens again from half-open).</summary>
    public Task NextOpening
    {
        get
        {
            lock (_lock)
            {
                return (_nextOpening ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
        }
    }

    /// <summary>How much longer the breaker rejects every call: the rest of its open period, zero when it is not open.</summary>
    public TimeSpan RejectsFor(TimeProvider time)
    {
        lock (_lock)
        {
            var remaining = _state == CircuitState.Open ? _openFor - time.GetElapsedTime(_openedAt) : TimeSpan.Zero;
            return remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero;
        }
    }

    /// <summary>Admits an attempt, or returns false with the time until the breaker admits trial calls again.</summary>
    public bool TryEnter(TimeProvider time, CircuitBreakerSettings settings, out CircuitTicket ticket, out TimeSpan retryAfter, out CircuitTransition transition)
    {
        transition = default;
        bool admitted;
        lock (_lock)
        {
            retryAfter = TimeSpan.Zero;
            if (_state == CircuitState.Open)
            {
                var remaining = _openFor - time.GetElapsedTime(_openedAt);
                if (remaining > TimeSpan.Zero)
                {
                    retryAfter = remaining;
                    ticket = default;
                    return false;
                }

                transition = MoveTo(CircuitState.HalfOpen, StatusCode.OK);
            }

            if (_state == CircuitState.HalfOpen)
            {
                admitted = _trialsInFlight < settings.SuccessThreshold;
                if (admitted)
                {
                    _trialsInFlight++;
                }
            }
            else
            {
                admitted = true;
            }

            ticket = new CircuitTicket(_generation);

            // Raised under the lock: raised after it, a trial admitted on another thread could fail and report the
            // reopening before this thread reported the half-open it came from.
            Raise(transition);
        }

        return admitted;
    }

    /// <summary>Records how an admitted attempt ended.</summary>
    public CircuitTransition Complete(TimeProvider time, CircuitTicket ticket, AttemptResult result, StatusCode status, CircuitBreakerSettings settings)
    {
        CircuitTransition transition = default;
        lock (_lock)
        {
            if (ticket.Generation != _generation)
            {
                return default;
            }

            switch (_state)
            {
                case CircuitState.Closed when result == AttemptResult.Failure:
                    if (++_consecutiveFailures >= settings.FailureThreshold)
                    {
                        transition = Open(time, status, settings);
                    }

                    break;
                case CircuitState.Closed when result == AttemptResult.Success:
                    _consecutiveFailures = 0;
                    break;
                case CircuitState.HalfOpen:
                    _trialsInFlight--;
                    if (result == AttemptResult.Failure)
                    {
                        transition = Open(time, status, settings);
                    }
                    else if (result == AttemptResult.Success && ++_trialSuccesses >= settings.SuccessThreshold)
                    {
                        transition = MoveTo(CircuitState.Closed, status);
                    }

                    break;
            }

            Raise(transition);
        }

        return transition;
    }

    /// <summary>
    /// The exception an open (or saturated half-open) breaker fails a call with: a new one each time, whose status and
    /// message are shared by the rejections of the same tenth of a second (they read the same).
    /// </summary>
    public RpcException CreateRejection(TimeSpan retryAfter, int trialLimit)
    {
        // Tenths of a second left, rounded up; a saturated half-open breaker is keyed by its trial limit (as a negative).
        var key = retryAfter > TimeSpan.Zero ? (long)Math.Ceiling(retryAfter.TotalMilliseconds / 100) : -1L - trialLimit;
        var text = _rejectionText;
        if (text is null || text.Key != key)
        {
            var detail = key >= 0
                ? string.Create(CultureInfo.InvariantCulture,
                    $"The circuit breaker of service '{ServiceId}' is open; calls are rejected for another {key / 10d:0.0} s.")
                : string.Create(CultureInfo.InvariantCulture,
                    $"The circuit breaker of service '{ServiceId}' is half-open and its {trialLimit} trial call(s) are in progress; calls are rejected until they end (0.0 s left of the open period).");
            var status = new Status(StatusCode.Unavailable, detail);
            text = new RejectionText(key, status, status.ToString());
            _rejectionText = text;
        }

        // The message is the one RpcException(Status) would build.
        return new RpcException(text.Status, Metadata.Empty, text.Message);
    }

    private CircuitTransition Open(TimeProvider time, StatusCode status, CircuitBreakerSettings settings)
    {
        var failures = _state == CircuitState.HalfOpen ? 1 : _consecutiveFailures;
        var transition = MoveTo(CircuitState.Open, status);
        _openedAt = time.GetTimestamp();
        _openFor = settings.BreakDuration;
        _nextOpening?.TrySetResult();
        _nextOpening = null;
        return transition with { Failures = failures, BreakDuration = settings.BreakDuration };
    }

    private CircuitTransition MoveTo(CircuitState state, StatusCode status)
    {
        var from = _state;
        _state = state;
        _generation++;
        _consecutiveFailures = 0;
        _trialsInFlight = 0;
        _trialSuccesses = 0;
        return new CircuitTransition(from, state, status, 0, TimeSpan.Zero);
    }

    /// <summary>The status and message of the rejections with the same time left.</summary>
    private sealed record RejectionText(long Key, Status Status, string Message);

    private void Raise(CircuitTransition transition)
    {
        if (transition.HasValue)
        {
            onTransition(ServiceId, transition);
        }
    }
}
