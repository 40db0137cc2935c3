using System.Collections.Concurrent;
using Mesh.AspNetCore.Discovery.Internal;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>
/// The circuit breakers of all target services, one per service id, for the application's lifetime. The call pipelines
/// (rebuilt when the configuration reloads) find their breaker here, so a reload never loses an open breaker's state.
/// </summary>
internal sealed partial class CircuitBreakerRegistry : ICircuitStateReader
{
    private readonly ConcurrentDictionary<string, ServiceCircuitBreaker> _breakers = new(StringComparer.OrdinalIgnoreCase);
    private readonly TimeProvider _timeProvider;
    private readonly MeshMetrics _metrics;
    private readonly ILogger _logger;
    private readonly Action<string, CircuitTransition> _onTransition;
    private readonly string[] _registered;

    public CircuitBreakerRegistry(
        IEnumerable<MeshClientRegistration> registrations,
        TimeProvider timeProvider,
        MeshMetrics metrics,
        ILogger<CircuitBreakerRegistry> logger)
    {
        _timeProvider = timeProvider;
        _metrics = metrics;
        _logger = logger;
        _onTransition = OnTransition;
        _registered = registrations.Select(r => r.ServiceId).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
        foreach (var serviceId in _registered)
        {
            Get(serviceId);
        }
    }

    public ServiceCircuitBreaker Get(string serviceId) =>
        _breakers.GetOrAdd(serviceId, static (id, registry) => new ServiceCircuitBreaker(id, registry._timeProvider, registry._onTransition), this);

    public CircuitState GetState(string serviceId) => Get(serviceId).State;

    /// <summary>The registered clients' services in registration order, then any other service a breaker was made for.</summary>
    public IEnumerable<KeyValuePair<string, CircuitState>> GetCircuitStates()
    {
        foreach (var id in _registered)
        {
            yield return new KeyValuePair<string, CircuitState>(id, Get(id).State);
        }

        foreach (var (id, breaker) in _breakers)
        {
            if (!_registered.Contains(id, StringComparer.OrdinalIgnoreCase))
            {
                yield return new KeyValuePair<string, CircuitState>(id, breaker.State);
            }
        }
    }

    private void OnTransition(string serviceId, CircuitTransition transition)
    {
        _metrics.CircuitStateChanged(serviceId, transition.From, transition.To);
        switch (transition.To)
        {
            case CircuitState.Open when transition.From == CircuitState.HalfOpen:
                LogReopened(_logger, serviceId, transition.Status, (long)transition.BreakDuration.TotalMilliseconds);
                break;
            case CircuitState.Open:
                LogOpened(_logger, serviceId, transition.Failures, transition.Status, (long)transition.BreakDuration.TotalMilliseconds);
                break;
            case CircuitState.HalfOpen:
                LogHalfOpened(_logger, serviceId);
                break;
            case CircuitState.Closed:
                LogClosed(_logger, serviceId);
                break;
        }
    }

    [LoggerMessage(EventId = 3001, EventName = "CircuitOpened", Level = LogLevel.Warning,
        Message = "The circuit breaker of service '{ServiceId}' opened after {Failures} consecutive failed attempts, the last with status {Status}; calls are rejected for {BreakDurationMs} ms.")]
    private static partial void LogOpened(ILogger logger, string serviceId, int failures, Grpc.Core.StatusCode status, long breakDurationMs);

    [LoggerMessage(EventId = 3002, EventName = "CircuitHalfOpened", Level = LogLevel.Information,
        Message = "The circuit breaker of service '{ServiceId}' is half-open: trial calls test whether the service recovered.")]
    private static partial void LogHalfOpened(ILogger logger, string serviceId);

    [LoggerMessage(EventId = 3003, EventName = "CircuitClosed", Level = LogLevel.Information,
        Message = "The circuit breaker of service '{ServiceId}' closed: the trial calls succeeded.")]
    private static partial void LogClosed(ILogger logger, string serviceId);

    [LoggerMessage(EventId = 3004, EventName = "CircuitReopened", Level = LogLevel.Warning,
        Message = "The circuit breaker of service '{ServiceId}' opened again: a trial call failed with status {Status}; calls are rejected for {BreakDurationMs} ms.")]
    private static partial void LogReopened(ILogger logger, string serviceId, Grpc.Core.StatusCode status, long breakDurationMs);
}
