using System.Text.Json;
using Mesh.AspNetCore.Telemetry.Internal;

namespace Mesh.AspNetCore.Tests.Telemetry;

public sealed class CircuitStateJsonConverterTests
{
    [Fact]
    public void Serialize_StatsWithEveryState_WritesAndReadsTheSeedsWords()
    {
        var stats = new MeshStats
        {
            Service = "s",
            ConnectedServices = ["a", "b", "c"],
            Metrics = new MeshMetricsSnapshot { CircuitBreakerState = CircuitState.HalfOpen, MessagesSent = 3 },
            Services = new Dictionary<string, MeshMetricsSnapshot>
            {
                ["a"] = new() { CircuitBreakerState = CircuitState.Closed },
                ["b"] = new() { CircuitBreakerState = CircuitState.Open },
                ["c"] = new() { CircuitBreakerState = CircuitState.HalfOpen },
            },
        };

        var json = JsonSerializer.Serialize(stats, MeshStatsJsonContext.Default.MeshStats);
        var back = JsonSerializer.Deserialize(json, MeshStatsJsonContext.Default.MeshStats)!;

        Assert.Contains("\"circuitBreakerState\":\"half_open\"", json, StringComparison.Ordinal);
        Assert.Equal(
            [CircuitState.Closed, CircuitState.Open, CircuitState.HalfOpen],
            back.Services.Values.Select(s => s.CircuitBreakerState));
        Assert.Equal((CircuitState.HalfOpen, 3L), (back.Metrics.CircuitBreakerState, back.Metrics.MessagesSent));
    }

    [Fact]
    public void Serialize_WithTheApplicationsOwnOptions_StillWritesTheSeedsWords()
    {
        var snapshot = new MeshMetricsSnapshot { CircuitBreakerState = CircuitState.HalfOpen };

        var json = JsonSerializer.Serialize(snapshot, JsonSerializerOptions.Web);

        Assert.Contains("\"circuitBreakerState\":\"half_open\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Deserialize_UnknownWord_Throws()
    {
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize(
            """{"service":"s","connectedServices":[],"metrics":{"circuitBreakerState":"HalfOpen"},"services":{}}""",
            MeshStatsJsonContext.Default.MeshStats));
    }
}
