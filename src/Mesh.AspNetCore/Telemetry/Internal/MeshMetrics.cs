using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Telemetry.Internal;

/// <summary>
/// The single place where the mesh records what happened: the <c>Mesh.AspNetCore</c> meter's instruments and the
/// counters behind <c>ISecureMesh.GetStats()</c>. Registered as a DI singleton.
/// </summary>
internal sealed class MeshMetrics
{
    public const string MeterName = "Mesh.AspNetCore";

    public const string ClientCallsName = "mesh.client.calls";
    public const string ClientRetriesName = "mesh.client.retries";
    public const string ClientRetriesThrottledName = "mesh.client.retries.throttled";
    public const string ClientCallDurationName = "mesh.client.call.duration";
    public const string CircuitBreakerStateName = "mesh.circuit_breaker.state";
    public const string CircuitBreakerTransitionsName = "mesh.circuit_breaker.transitions";
    public const string RateLimitDecisionsName = "mesh.rate_limit.decisions";

    public const string ServiceTag = "mesh.service";
    public const string MethodTag = "rpc.method";
    public const string OutcomeTag = "mesh.outcome";
    public const string StatusCodeTag = "rpc.response.status_code";
    public const string FromStateTag = "mesh.circuit_breaker.from";
    public const string ToStateTag = "mesh.circuit_breaker.to";
    public const string RateLimitResultTag = "mesh.rate_limit.result";
    public const string TransportTag = "mesh.transport";

    public const string Success = "success";
    public const string Failure = "failure";
    public const string Admitted = "admitted";
    public const string Rejected = "rejected";

    /// <summary>Bucket boundaries (seconds) for call durations: 1 ms to 60 s, which covers a call's retries and backoff.</summary>
    internal static readonly double[] DurationBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60];

    // The canonical gRPC status names (grpc/doc/statuscodes.md), indexed by code, so a tag value costs no allocation.
    private static readonly string[] s_statusCodeNames =
    [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
        "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ];

    private static readonly Func<string, ServiceCallStats> s_newServiceStats = static _ => new ServiceCallStats();

    private readonly IServiceProvider _services;
    private readonly TimeProvider _timeProvider;
    private readonly ConcurrentDictionary<string, ServiceCallStats> _byService = new(StringComparer.OrdinalIgnoreCase);
    private readonly Counter<long> _calls;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _retriesThrottled;
    private readonly Histogram<double> _callDuration;
    private readonly Counter<long> _transitions;
    private readonly Counter<long> _rateLimitDecisions;
    private ICircuitStateReader[]? _readers;
    private long _rateLimitAdmitted;
    private long _rateLimitRejected;

    // The breaker registry that implements ICircuitStateReader records transitions here, so taking the readers in the
    // constructor would be a dependency cycle: they are resolved on first use instead.
    public MeshMetrics(IMeterFactory meterFactory, IServiceProvider services, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _services = services;
        _timeProvider = timeProvider;
        var meter = meterFactory.Create(new MeterOptions(MeterName));

        _calls = meter.CreateCounter<long>(
            ClientCallsName,
            unit: "{call}",
            description: "Logical calls made through mesh clients (all attempts of a call count once), by target service, method, outcome and final gRPC status.");
        _retries = meter.CreateCounter<long>(
            ClientRetriesName,
            unit: "{retry}",
            description: "Retries scheduled by mesh clients, by target service, method and the gRPC status of the attempt that failed.");
        _retriesThrottled = meter.CreateCounter<long>(
            ClientRetriesThrottledName,
            unit: "{retry}",
            description: "Retries that a target service's retry budget refused (the call ended with the failed attempt's status), by target service, method and that status.");
        _callDuration = meter.CreateHistogram(
            ClientCallDurationName,
            unit: "s",
            description: "Duration of logical calls made through mesh clients, retries and backoff included.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        meter.CreateObservableGauge(
            CircuitBreakerStateName,
            ObserveCircuitStates,
            unit: "{state}",
            description: "State of each target service's circuit breaker: 0 closed, 1 half-open, 2 open.");
        _transitions = meter.CreateCounter<long>(
            CircuitBreakerTransitionsName,
            unit: "{transition}",
            description: "Circuit breaker state changes, by target service, previous state and new state.");
        _rateLimitDecisions = meter.CreateCounter<long>(
            RateLimitDecisionsName,
            unit: "{request}",
            description: "Inbound requests admitted or rejected by the mesh rate limiter, by result and transport.");
    }

    /// <summary>Inbound requests the rate limiter admitted since the start.</summary>
    public long RateLimitAdmitted => Volatile.Read(ref _rateLimitAdmitted);

    /// <summary>Inbound requests the rate limiter rejected since the start.</summary>
    public long RateLimitRejected => Volatile.Read(ref _rateLimitRejected);

    /// <summary>An inbound request was admitted or rejected by the rate limiter. <paramref name="transport"/> is "grpc" or "http".</summary>
    public void RateLimitDecision(bool admitted, string transport)
    {
        Interlocked.Increment(ref admitted ? ref _rateLimitAdmitted : ref _rateLimitRejected);
        if (_rateLimitDecisions.Enabled)
        {
            var tags = default(TagList);
            tags.Add(RateLimitResultTag, admitted ? Admitted : Rejected);
            tags.Add(TransportTag, transport);
            _rateLimitDecisions.Add(1, in tags);
        }
    }

    /// <summary>A logical outbound call (all its attempts) ended with <paramref name="status"/>.</summary>
    public void CallCompleted(string serviceId, string method, StatusCode status, TimeSpan duration)
    {
        var failed = status != StatusCode.OK;
        ForService(serviceId).CallCompleted(failed, duration);

        if (_calls.Enabled)
        {
            var tags = default(TagList);
            tags.Add(ServiceTag, serviceId);
            tags.Add(MethodTag, method);
            tags.Add(OutcomeTag, failed ? Failure : Success);
            tags.Add(StatusCodeTag, StatusCodeName(status));
            _calls.Add(1, in tags);
        }

        if (_callDuration.Enabled)
        {
            var tags = default(TagList);
            tags.Add(ServiceTag, serviceId);
            tags.Add(MethodTag, method);
            tags.Add(OutcomeTag, failed ? Failure : Success);
            _callDuration.Record(duration.TotalSeconds, in tags);
        }
    }

    /// <summary>An outbound attempt failed with <paramref name="status"/> and a retry was scheduled.</summary>
    public void RetryScheduled(string serviceId, string method, StatusCode status)
    {
        ForService(serviceId).RetryScheduled();
        if (_retries.Enabled)
        {
            var tags = default(TagList);
            tags.Add(ServiceTag, serviceId);
            tags.Add(MethodTag, method);
            tags.Add(StatusCodeTag, StatusCodeName(status));
            _retries.Add(1, in tags);
        }
    }

    /// <summary>An outbound attempt failed with <paramref name="status"/> and the service's retry budget refused its retry.</summary>
    public void RetryThrottled(string serviceId, string method, StatusCode status)
    {
        ForService(serviceId).RetryThrottled();
        if (_retriesThrottled.Enabled)
        {
            var tags = default(TagList);
            tags.Add(ServiceTag, serviceId);
            tags.Add(MethodTag, method);
            tags.Add(StatusCodeTag, StatusCodeName(status));
            _retriesThrottled.Add(1, in tags);
        }
    }

    /// <summary>The circuit breaker of <paramref name="serviceId"/> moved from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public void CircuitStateChanged(string serviceId, CircuitState from, CircuitState to)
    {
        ForService(serviceId).StateChanged(from, to, _timeProvider.GetUtcNow());
        if (_transitions.Enabled)
        {
            var tags = default(TagList);
            tags.Add(ServiceTag, serviceId);
            tags.Add(FromStateTag, CircuitStateNames.Of(from));
            tags.Add(ToStateTag, CircuitStateNames.Of(to));
            _transitions.Add(1, in tags);
        }
    }

    /// <summary>The canonical gRPC name of <paramref name="status"/>, e.g. <c>DEADLINE_EXCEEDED</c>.</summary>
    internal static string StatusCodeName(StatusCode status)
    {
        var code = (int)status;
        return (uint)code < (uint)s_statusCodeNames.Length
            ? s_statusCodeNames[code]
            : code.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The services that calls, retries or breaker transitions were recorded for, with their figures.</summary>
    internal IEnumerable<KeyValuePair<string, ServiceCallStats>> RecordedServices => _byService;

    /// <summary>The figures recorded for <paramref name="serviceId"/>, if calls, retries or breaker transitions were recorded for it.</summary>
    internal bool TryGetRecordedService(string serviceId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ServiceCallStats? stats) =>
        _byService.TryGetValue(serviceId, out stats);

    /// <summary>The target service ids of all registered mesh clients, in registration order, with their breaker's state.</summary>
    internal List<KeyValuePair<string, CircuitState>> ReadRegisteredCircuitStates()
    {
        var states = new List<KeyValuePair<string, CircuitState>>();
        foreach (var reader in GetReaders())
        {
            foreach (var state in reader.GetCircuitStates())
            {
                var existing = states.FindIndex(s => string.Equals(s.Key, state.Key, StringComparison.OrdinalIgnoreCase));
                if (existing < 0)
                {
                    states.Add(state);
                }
                else
                {
                    states[existing] = new(state.Key, CircuitStateNames.Worst(states[existing].Value, state.Value));
                }
            }
        }

        return states;
    }

    /// <summary>
    /// Every known service's breaker state: the <paramref name="registered"/> clients' current states, then, for a
    /// service only seen through recorded transitions, the state the last one moved to.
    /// </summary>
    internal Dictionary<string, CircuitState> ReadCircuitStates(List<KeyValuePair<string, CircuitState>> registered)
    {
        var states = new Dictionary<string, CircuitState>(registered, StringComparer.OrdinalIgnoreCase);
        foreach (var (serviceId, stats) in _byService)
        {
            if (stats.LastKnownState is { } state)
            {
                states.TryAdd(serviceId, state);
            }
        }

        return states;
    }

    private ServiceCallStats ForService(string serviceId) => _byService.GetOrAdd(serviceId, s_newServiceStats);

    private IEnumerable<Measurement<int>> ObserveCircuitStates()
    {
        var states = ReadCircuitStates(ReadRegisteredCircuitStates());
        var measurements = new List<Measurement<int>>(states.Count);
        foreach (var (serviceId, state) in states)
        {
            measurements.Add(new Measurement<int>(CircuitStateNames.Severity(state), new KeyValuePair<string, object?>(ServiceTag, serviceId)));
        }

        return measurements;
    }

    private ICircuitStateReader[] GetReaders()
    {
        var readers = Volatile.Read(ref _readers);
        if (readers is null)
        {
            try
            {
                readers = [.. _services.GetServices<ICircuitStateReader>()];
            }
            catch (ObjectDisposedException)
            {
                // A last collection while the application shuts down: there is nothing left to read.
                return [];
            }

            Volatile.Write(ref _readers, readers);
        }

        return readers;
    }
}
