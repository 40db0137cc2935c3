using Mesh.AspNetCore.Discovery.Internal;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Telemetry.Internal;

/// <summary>Builds <see cref="MeshStats"/> from what <see cref="MeshMetrics"/> recorded.</summary>
internal sealed class SecureMesh(MeshMetrics metrics, IOptionsMonitor<SecureMeshOptions> options, EndpointRegistry? endpoints = null) : ISecureMesh
{
    public MeshStats GetStats()
    {
        var registered = metrics.ReadRegisteredCircuitStates();
        var states = metrics.ReadCircuitStates(registered);
        var recorded = metrics.RecordedServices.ToDictionary(s => s.Key, s => s.Value, StringComparer.OrdinalIgnoreCase);

        // Connected services first, in registration order, then any other service calls were recorded for.
        var serviceIds = registered.Select(s => s.Key)
            .Concat(recorded.Keys.Order(StringComparer.Ordinal))
            .Concat(states.Keys.Order(StringComparer.Ordinal))
            .Distinct(StringComparer.OrdinalIgnoreCase);

        var services = new Dictionary<string, MeshMetricsSnapshot>(StringComparer.OrdinalIgnoreCase);
        var total = new LatencySummary();
        var worst = CircuitState.Closed;
        long sent = 0, failed = 0, retries = 0, retriesThrottled = 0;
        foreach (var serviceId in serviceIds)
        {
            var state = states.GetValueOrDefault(serviceId, CircuitState.Closed);
            worst = CircuitStateNames.Worst(worst, state);

            var latency = new LatencySummary();
            MeshMetricsSnapshot snapshot;
            if (recorded.TryGetValue(serviceId, out var stats))
            {
                stats.Latency.AddTo(latency);
                stats.Latency.AddTo(total);
                snapshot = Snapshot(stats.Sent, stats.Failed, stats.Retries, state, latency) with { RetriesThrottled = stats.RetriesThrottled };
                retriesThrottled += snapshot.RetriesThrottled;
                sent += snapshot.MessagesSent;
                failed += snapshot.MessagesFailed;
                retries += snapshot.Retries;
            }
            else
            {
                snapshot = Snapshot(0, 0, 0, state, latency);
            }

            if (endpoints?.Snapshot(serviceId) is { } serviceEndpoints)
            {
                snapshot = snapshot with { Endpoints = serviceEndpoints };
            }

            services.Add(serviceId, snapshot);
        }

        return new MeshStats
        {
            Service = options.CurrentValue.ServiceId,
            ConnectedServices = registered.Select(s => s.Key).ToArray(),
            Metrics = Snapshot(sent, failed, retries, worst, total) with
            {
                RateLimitAllowed = metrics.RateLimitAdmitted,
                RateLimitBlocked = metrics.RateLimitRejected,
                RetriesThrottled = retriesThrottled,
            },
            Services = services,
        };
    }

    private static MeshMetricsSnapshot Snapshot(long sent, long failed, long retries, CircuitState state, LatencySummary latency) => new()
    {
        MessagesSent = sent,
        MessagesFailed = failed,
        CircuitBreakerState = state,
        Retries = retries,
        AverageLatencyMs = latency.AverageMilliseconds,
        P50LatencyMs = latency.PercentileMilliseconds(0.50),
        P99LatencyMs = latency.PercentileMilliseconds(0.99),
    };
}
