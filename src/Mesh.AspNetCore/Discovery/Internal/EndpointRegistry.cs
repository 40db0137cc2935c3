using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Net.Client.Balancer;
using Mesh.AspNetCore.Resilience.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>
/// The endpoints of every target service, with their outlier state and counts: shared by the resolvers, balancers and
/// outcome handlers of all mesh channels, and read by the stats. Registered as a DI singleton.
/// </summary>
internal sealed partial class EndpointRegistry : IDisposable
{
    private readonly ConcurrentDictionary<string, ServiceEndpoints> _services = new(StringComparer.OrdinalIgnoreCase);
    private readonly IOptionsMonitor<SecureMeshOptions> _options;
    private readonly IDisposable? _subscription;
    private CircuitBreakerSettings _failures;

    public EndpointRegistry(IOptionsMonitor<SecureMeshOptions> options, TimeProvider timeProvider, ILogger<EndpointRegistry> logger, EndpointMetrics metrics)
    {
        _options = options;
        TimeProvider = timeProvider;
        Logger = logger;
        Metrics = metrics;
        _failures = new CircuitBreakerSettings(options.CurrentValue.Resilience.CircuitBreaker);
        _subscription = options.OnChange(o => Volatile.Write(ref _failures, new CircuitBreakerSettings(o.Resilience.CircuitBreaker)));
        metrics.Observe(this);
    }

    public TimeProvider TimeProvider { get; }

    public ILogger Logger { get; }

    public EndpointMetrics Metrics { get; }

    public OutlierDetectionOptions OutlierDetection => _options.CurrentValue.Resilience.OutlierDetection;

    /// <summary>Whether <paramref name="status"/> is one of the circuit breaker's failure statuses, as currently configured.</summary>
    public bool IsFailure(StatusCode status) => Volatile.Read(ref _failures).IsFailure(status);

    public ServiceEndpoints Get(string serviceId) => _services.GetOrAdd(serviceId, static (id, registry) => new ServiceEndpoints(id, registry), this);

    /// <summary>The endpoints of <paramref name="serviceId"/> for the stats, or null when no mesh channel resolved them yet.</summary>
    public IReadOnlyList<EndpointStats>? Snapshot(string serviceId)
    {
        if (_services.TryGetValue(serviceId, out var service) && service.Current.Length > 0)
        {
            return service.Snapshot();
        }

        // No channel of the service resolved its endpoints yet: the configured ones, not connected.
        return FindEntry(_options.CurrentValue.Discovery, serviceId) is { } entry
            ? [.. AddressesOf(entry).Select(static a => new EndpointStats { Address = ServiceEndpoints.AddressOf(a.EndPoint), State = "idle" })]
            : null;
    }

    public static ServiceEndpoint? FindEntry(DiscoveryOptions discovery, string serviceId) =>
        discovery.Services.FirstOrDefault(s => string.Equals(s?.Id, serviceId, StringComparison.OrdinalIgnoreCase));

    /// <summary>The endpoints a discovery entry lists: its <c>Endpoints</c>, or its <c>Host</c> and <c>Port</c>.</summary>
    public static List<BalancerAddress> AddressesOf(ServiceEndpoint entry) =>
        entry.Endpoints is { } endpoints
            ? [.. endpoints.Where(static e => e is not null).Select(static e => new BalancerAddress(e.Host, e.Port))]
            : [new BalancerAddress(entry.Host, entry.Port)];

    internal IEnumerable<ServiceEndpoints> Services => _services.Values;

    public void Dispose()
    {
        _subscription?.Dispose();
        foreach (var service in _services.Values)
        {
            service.Dispose();
        }
    }

    [LoggerMessage(EventId = 4001, EventName = "EndpointEjected", Level = LogLevel.Warning,
        Message = "Endpoint {Address} of service '{ServiceId}' is ejected for {EjectionTimeMs} ms after {Failures} consecutive failed attempts, the last with status {Status} (ejection {Ejections}).")]
    internal static partial void LogEjected(ILogger logger, string address, string serviceId, long ejectionTimeMs, int failures, StatusCode status, int ejections);

    [LoggerMessage(EventId = 4002, EventName = "EndpointReturned", Level = LogLevel.Information,
        Message = "Endpoint {Address} of service '{ServiceId}' gets calls again: its ejection time has passed.")]
    internal static partial void LogReturned(ILogger logger, string address, string serviceId);

    [LoggerMessage(EventId = 4003, EventName = "EndpointEjectionLimited", Level = LogLevel.Debug,
        Message = "Endpoint {Address} of service '{ServiceId}' failed {Failures} consecutive attempts but stays in use: {Ejected} of its {Count} endpoints are ejected, the most MaxEjectionPercent {MaxEjectionPercent} allows.")]
    internal static partial void LogEjectionLimited(ILogger logger, string address, string serviceId, int failures, int ejected, int count, int maxEjectionPercent);
}
