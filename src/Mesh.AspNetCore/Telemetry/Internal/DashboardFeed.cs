using System.Buffers;
using System.Text.Json;

namespace Mesh.AspNetCore.Telemetry.Internal;

/// <summary>
/// The dashboard's JSON feed: the same <see cref="MeshStats"/> as <c>/mesh/stats</c> (under <c>stats</c>, written by the same
/// serializer, so fields added there appear here), the server's clock, and per service the latest breaker transitions with
/// their time and the latency chart's points. Rates per second are left to the page, from the counters of two snapshots.
/// </summary>
internal sealed class DashboardFeed(ISecureMesh mesh, MeshMetrics metrics, DashboardLatencyHistory latency, TimeProvider timeProvider)
{
    private static readonly JsonEncodedText s_time = JsonEncodedText.Encode("time");
    private static readonly JsonEncodedText s_intervalMs = JsonEncodedText.Encode("intervalMs");
    private static readonly JsonEncodedText s_latencyWindowMs = JsonEncodedText.Encode("latencyWindowMs");
    private static readonly JsonEncodedText s_stats = JsonEncodedText.Encode("stats");
    private static readonly JsonEncodedText s_history = JsonEncodedText.Encode("history");
    private static readonly JsonEncodedText s_transitionCount = JsonEncodedText.Encode("transitionCount");
    private static readonly JsonEncodedText s_transitions = JsonEncodedText.Encode("transitions");
    private static readonly JsonEncodedText s_at = JsonEncodedText.Encode("at");
    private static readonly JsonEncodedText s_from = JsonEncodedText.Encode("from");
    private static readonly JsonEncodedText s_to = JsonEncodedText.Encode("to");
    private static readonly JsonEncodedText s_latency = JsonEncodedText.Encode("latency");
    private static readonly JsonEncodedText s_seq = JsonEncodedText.Encode("seq");
    private static readonly JsonEncodedText s_calls = JsonEncodedText.Encode("calls");
    private static readonly JsonEncodedText s_p50Ms = JsonEncodedText.Encode("p50Ms");
    private static readonly JsonEncodedText s_p99Ms = JsonEncodedText.Encode("p99Ms");

    /// <summary>Starts the latency chart's sampling; called when the dashboard is mapped.</summary>
    public void Start() => latency.Start();

    /// <summary>
    /// Writes one snapshot as a JSON object. Latency points already sent (by sequence, per service, in
    /// <paramref name="sentLatency"/>) are left out, and the newest sequence written is recorded there; null sends all.
    /// </summary>
    public void Write(IBufferWriter<byte> output, Dictionary<string, long>? sentLatency = null)
    {
        var stats = mesh.GetStats();
        using var writer = new Utf8JsonWriter(output);
        writer.WriteStartObject();
        writer.WriteString(s_time, timeProvider.GetUtcNow());
        writer.WriteNumber(s_intervalMs, (long)DashboardConstants.PushInterval.TotalMilliseconds);
        writer.WriteNumber(s_latencyWindowMs, (long)DashboardConstants.LatencyWindow.TotalMilliseconds);
        writer.WritePropertyName(s_stats);
        JsonSerializer.Serialize(writer, stats, MeshStatsJsonContext.Default.MeshStats);

        writer.WritePropertyName(s_history);
        writer.WriteStartObject();
        Span<CircuitTransitionRecord> transitions = stackalloc CircuitTransitionRecord[ServiceCallStats.RecentTransitionCapacity];
        var points = ArrayPool<LatencyPoint>.Shared.Rent(DashboardConstants.LatencyHistoryLength);
        try
        {
            foreach (var serviceId in stats.Services.Keys)
            {
                writer.WritePropertyName(serviceId);
                writer.WriteStartObject();

                var transitionCount = 0;
                long total = 0;
                if (metrics.TryGetRecordedService(serviceId, out var recorded))
                {
                    transitionCount = recorded.CopyRecentTransitions(transitions);
                    total = recorded.TransitionCount;
                }

                writer.WriteNumber(s_transitionCount, total);
                writer.WriteStartArray(s_transitions);
                foreach (var transition in transitions[..transitionCount])
                {
                    writer.WriteStartObject();
                    writer.WriteString(s_at, transition.At);
                    writer.WriteString(s_from, CircuitStateNames.Of(transition.From));
                    writer.WriteString(s_to, CircuitStateNames.Of(transition.To));
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();

                var after = sentLatency?.GetValueOrDefault(serviceId) ?? 0;
                var count = latency.CopyPoints(serviceId, after, points);
                writer.WriteStartArray(s_latency);
                foreach (var point in points.AsSpan(0, count))
                {
                    writer.WriteStartObject();
                    writer.WriteNumber(s_seq, point.Sequence);
                    writer.WriteString(s_at, point.At);
                    writer.WriteNumber(s_calls, point.Calls);
                    writer.WriteNumber(s_p50Ms, point.P50Ms);
                    writer.WriteNumber(s_p99Ms, point.P99Ms);
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
                if (sentLatency is not null && count > 0)
                {
                    sentLatency[serviceId] = points[count - 1].Sequence;
                }

                writer.WriteEndObject();
            }
        }
        finally
        {
            ArrayPool<LatencyPoint>.Shared.Return(points);
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}
