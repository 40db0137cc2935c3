using Grpc.Core;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Mesh.AspNetCore.Tests.Telemetry;

/// <summary>The application adds OpenTelemetry with an exporter and no <c>AddMeter</c> line: the mesh's instruments arrive anyway.</summary>
[Collection(MeshMeterByNameCollection.Name)]
public sealed class MeshOpenTelemetryTests
{
    private const string Inventory = "inventory-service";
    private const string Payment = "payment-service";
    private const string Reserve = "/inventory.Inventory/Reserve";
    private const string Charge = "/payment.Payment/Charge";

    [Fact]
    public void WithMetrics_NoAddMeter_ExportsEveryMeshInstrumentWithValuesAndTags()
    {
        var exported = new List<MetricSnapshot>();
        var reader = new TestCircuitStateReader(Inventory, Payment);
        using var services = TelemetryTestServices.Build(
            s => s.AddOpenTelemetry().WithMetrics(m => m.AddInMemoryExporter(exported)),
            reader);
        var meterProvider = services.GetRequiredService<MeterProvider>();
        var metrics = services.GetRequiredService<MeshMetrics>();

        metrics.RateLimitDecision(admitted: true, "grpc");
        metrics.RateLimitDecision(admitted: true, "grpc");
        metrics.RateLimitDecision(admitted: false, "http");
        metrics.CallCompleted(Inventory, Reserve, StatusCode.OK, TimeSpan.FromMilliseconds(20));
        metrics.CallCompleted(Inventory, Reserve, StatusCode.OK, TimeSpan.FromMilliseconds(30));
        metrics.RetryScheduled(Payment, Charge, StatusCode.Unavailable);
        metrics.RetryScheduled(Payment, Charge, StatusCode.Unavailable);
        metrics.CallCompleted(Payment, Charge, StatusCode.Unavailable, TimeSpan.FromSeconds(3));
        metrics.CircuitStateChanged(Payment, CircuitState.Closed, CircuitState.Open);
        reader.Set(Payment, CircuitState.Open);
        Assert.True(meterProvider.ForceFlush());

        var latest = exported.GroupBy(m => m.Name).ToDictionary(g => g.Key, g => g.Last());
        Assert.All(latest.Values.Where(m => m.Name.StartsWith("mesh.", StringComparison.Ordinal)), m => Assert.Equal("Mesh.AspNetCore", m.MeterName));

        Assert.Equal(
            [("admitted|grpc", 2L), ("rejected|http", 1L)],
            Points(latest[MeshMetrics.RateLimitDecisionsName], MeshMetrics.RateLimitResultTag, MeshMetrics.TransportTag).Select(p => (p.Key, p.Point.GetSumLong())));

        Assert.Equal(
            [($"{Inventory}|{Reserve}|success|OK", 2L), ($"{Payment}|{Charge}|failure|UNAVAILABLE", 1L)],
            Points(latest[MeshMetrics.ClientCallsName], MeshMetrics.ServiceTag, MeshMetrics.MethodTag, MeshMetrics.OutcomeTag, MeshMetrics.StatusCodeTag)
                .Select(p => (p.Key, p.Point.GetSumLong())));

        Assert.Equal(
            [($"{Payment}|{Charge}|UNAVAILABLE", 2L)],
            Points(latest[MeshMetrics.ClientRetriesName], MeshMetrics.ServiceTag, MeshMetrics.MethodTag, MeshMetrics.StatusCodeTag)
                .Select(p => (p.Key, p.Point.GetSumLong())));

        var duration = latest[MeshMetrics.ClientCallDurationName];
        Assert.Equal(("s", MetricType.Histogram), (duration.Unit, duration.MetricType));
        var durations = Points(duration, MeshMetrics.ServiceTag, MeshMetrics.MethodTag, MeshMetrics.OutcomeTag);
        Assert.Equal(
            [($"{Inventory}|{Reserve}|success", 2L, 0.05), ($"{Payment}|{Charge}|failure", 1L, 3.0)],
            durations.Select(p => (p.Key, p.Point.GetHistogramCount(), Math.Round(p.Point.GetHistogramSum(), 6))));
        var bounds = new List<double>();
        foreach (var bucket in durations[0].Point.GetHistogramBuckets())
        {
            bounds.Add(bucket.ExplicitBound);
        }

        Assert.Equal([.. MeshMetrics.DurationBuckets, double.PositiveInfinity], bounds);

        Assert.Equal(
            [($"{Payment}|closed|open", 1L)],
            Points(latest[MeshMetrics.CircuitBreakerTransitionsName], MeshMetrics.ServiceTag, MeshMetrics.FromStateTag, MeshMetrics.ToStateTag)
                .Select(p => (p.Key, p.Point.GetSumLong())));

        var state = latest[MeshMetrics.CircuitBreakerStateName];
        Assert.Equal(("{state}", MetricType.LongGauge), (state.Unit, state.MetricType));
        Assert.Equal(
            [(Inventory, 0L), (Payment, 2L)],
            Points(state, MeshMetrics.ServiceTag).Select(p => (p.Key, p.Point.GetGaugeLastValueLong())));
    }

    [Fact]
    public void WithMetrics_AddedBeforeAddSecureMesh_StillExportsMeshInstruments()
    {
        var exported = new List<MetricSnapshot>();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddOpenTelemetry().WithMetrics(m => m.AddInMemoryExporter(exported));
        services.AddSecureMesh(o => o.ServiceId = "order-service");
        using var provider = services.BuildServiceProvider();
        var meterProvider = provider.GetRequiredService<MeterProvider>();

        provider.GetRequiredService<MeshMetrics>().CallCompleted(Inventory, Reserve, StatusCode.OK, TimeSpan.FromMilliseconds(5));
        Assert.True(meterProvider.ForceFlush());

        var calls = exported.Last(m => m.Name == MeshMetrics.ClientCallsName);
        Assert.Equal(1L, Assert.Single(calls.MetricPoints).GetSumLong());
    }

    [Fact]
    public void WithMetrics_NoMeshActivityYet_ExportsEveryRegisteredServicesCircuitState()
    {
        var exported = new List<MetricSnapshot>();
        var reader = new TestCircuitStateReader(Inventory, Payment);
        reader.Set(Inventory, CircuitState.HalfOpen);
        using var services = TelemetryTestServices.Build(
            s => s.AddOpenTelemetry().WithMetrics(m => m.AddInMemoryExporter(exported)),
            reader);

        Assert.True(services.GetRequiredService<MeterProvider>().ForceFlush());

        var state = exported.Last(m => m.Name == MeshMetrics.CircuitBreakerStateName);
        Assert.Equal(
            [(Inventory, 1L), (Payment, 0L)],
            Points(state, MeshMetrics.ServiceTag).Select(p => (p.Key, p.Point.GetGaugeLastValueLong())));
    }

    [Fact]
    public void AddSecureMesh_ApplicationWithoutOpenTelemetry_CreatesNoMeterProviderAndRecordsNormally()
    {
        using var services = TelemetryTestServices.Build();
        var metrics = services.GetRequiredService<MeshMetrics>();

        metrics.CallCompleted(Inventory, Reserve, StatusCode.OK, TimeSpan.FromMilliseconds(5));

        Assert.Null(services.GetService<MeterProvider>());
        Assert.Equal(1, services.GetRequiredService<ISecureMesh>().GetStats().Metrics.MessagesSent);
    }

    private static List<(string Key, MetricPoint Point)> Points(MetricSnapshot metric, params string[] tagNames)
    {
        var points = new List<(string Key, MetricPoint Point)>();
        foreach (var point in metric.MetricPoints)
        {
            var tags = new Dictionary<string, object?>();
            foreach (var tag in point.Tags)
            {
                tags[tag.Key] = tag.Value;
            }

            Assert.Equal(tagNames.Order(), tags.Keys.Order());
            points.Add((string.Join('|', tagNames.Select(n => tags[n])), point));
        }

        return [.. points.OrderBy(p => p.Key, StringComparer.Ordinal)];
    }
}
