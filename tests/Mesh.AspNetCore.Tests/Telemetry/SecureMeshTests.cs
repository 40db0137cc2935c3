using Grpc.Core;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Telemetry;

public sealed class SecureMeshTests
{
    private const string Inventory = "inventory-service";
    private const string Payment = "payment-service";
    private const string Reserve = "/inventory.Inventory/Reserve";
    private const string Charge = "/payment.Payment/Charge";

    [Fact]
    public void GetStats_ScriptedCalls_CountsExactlyPerServiceAndInTotal()
    {
        using var services = TelemetryTestServices.Build(reader: new TestCircuitStateReader(Inventory, Payment));
        var metrics = services.GetRequiredService<MeshMetrics>();
        var mesh = services.GetRequiredService<ISecureMesh>();

        for (var i = 0; i < 3; i++)
        {
            metrics.CallCompleted(Inventory, Reserve, StatusCode.OK, TimeSpan.FromMilliseconds(10));
        }

        metrics.RetryScheduled(Inventory, Reserve, StatusCode.Unavailable);
        metrics.RetryScheduled(Inventory, Reserve, StatusCode.Unavailable);
        metrics.RetryScheduled(Inventory, Reserve, StatusCode.Unavailable);
        metrics.CallCompleted(Inventory, Reserve, StatusCode.Unavailable, TimeSpan.FromMilliseconds(10));
        metrics.RetryScheduled(Payment, Charge, StatusCode.Aborted);
        metrics.CallCompleted(Payment, Charge, StatusCode.DeadlineExceeded, TimeSpan.FromMilliseconds(10));
        metrics.CallCompleted(Payment, Charge, StatusCode.Cancelled, TimeSpan.FromMilliseconds(10));
        for (var i = 0; i < 5; i++)
        {
            metrics.RateLimitDecision(admitted: true, i % 2 == 0 ? "grpc" : "http");
        }

        metrics.RateLimitDecision(admitted: false, "grpc");
        metrics.RateLimitDecision(admitted: false, "http");

        var stats = mesh.GetStats();

        Assert.Equal(TelemetryTestServices.ServiceId, stats.Service);
        Assert.Equal([Inventory, Payment], stats.ConnectedServices);
        Assert.Equal((6L, 3L, 4L, 5L, 2L), Counts(stats.Metrics));
        Assert.Equal([Inventory, Payment], stats.Services.Keys);
        Assert.Equal((4L, 1L, 3L, 0L, 0L), Counts(stats.Services[Inventory]));
        Assert.Equal((2L, 2L, 1L, 0L, 0L), Counts(stats.Services[Payment]));
    }

    [Theory]
    [InlineData(new[] { CircuitState.Closed, CircuitState.Closed }, CircuitState.Closed)]
    [InlineData(new[] { CircuitState.Closed, CircuitState.HalfOpen, CircuitState.Closed }, CircuitState.HalfOpen)]
    [InlineData(new[] { CircuitState.HalfOpen, CircuitState.Open, CircuitState.Closed }, CircuitState.Open)]
    [InlineData(new[] { CircuitState.Open, CircuitState.HalfOpen }, CircuitState.Open)]
    public void GetStats_BreakersInDifferentStates_ReportsTheWorstAtTopAndEachPerService(CircuitState[] states, CircuitState worst)
    {
        var reader = new TestCircuitStateReader();
        for (var i = 0; i < states.Length; i++)
        {
            reader.Set($"service-{i}", states[i]);
        }

        using var services = TelemetryTestServices.Build(reader: reader);

        var stats = services.GetRequiredService<ISecureMesh>().GetStats();

        Assert.Equal(worst, stats.Metrics.CircuitBreakerState);
        Assert.Equal(states, stats.Services.Values.Select(s => s.CircuitBreakerState));
    }

    [Fact]
    public void GetStats_BreakerChangesAfterASnapshot_NextSnapshotShowsTheCurrentState()
    {
        var reader = new TestCircuitStateReader(Inventory);
        using var services = TelemetryTestServices.Build(reader: reader);
        var mesh = services.GetRequiredService<ISecureMesh>();

        var before = mesh.GetStats();
        reader.Set(Inventory, CircuitState.Open);
        var after = mesh.GetStats();

        Assert.Equal(
            (CircuitState.Closed, CircuitState.Open, CircuitState.Open),
            (before.Metrics.CircuitBreakerState, after.Metrics.CircuitBreakerState, after.Services[Inventory].CircuitBreakerState));
    }

    [Fact]
    public void GetStats_LatencyOfRecordedCalls_GivesAverageAndPercentilesPerServiceAndOverall()
    {
        using var services = TelemetryTestServices.Build(reader: new TestCircuitStateReader(Inventory, Payment));
        var metrics = services.GetRequiredService<MeshMetrics>();
        for (var ms = 1; ms <= 100; ms++)
        {
            metrics.CallCompleted(Inventory, Reserve, StatusCode.OK, TimeSpan.FromMilliseconds(ms));
            metrics.CallCompleted(Payment, Charge, StatusCode.OK, TimeSpan.FromMilliseconds(1000));
        }

        var stats = services.GetRequiredService<ISecureMesh>().GetStats();

        var inventory = stats.Services[Inventory];
        Assert.Equal(50.5, inventory.AverageLatencyMs, 3);
        Assert.Equal(50, inventory.P50LatencyMs, tolerance: 50 * 0.02);
        Assert.Equal(99, inventory.P99LatencyMs, tolerance: 99 * 0.02);
        var payment = stats.Services[Payment];
        Assert.Equal((1000.0, 1000.0, 1000.0), (payment.AverageLatencyMs, payment.P50LatencyMs, payment.P99LatencyMs));
        Assert.Equal(525.25, stats.Metrics.AverageLatencyMs, 3);
        Assert.Equal(100, stats.Metrics.P50LatencyMs, tolerance: 100 * 0.02);
        Assert.Equal(1000, stats.Metrics.P99LatencyMs);
    }

    [Fact]
    public void GetStats_NothingRecorded_ListsConnectedServicesClosedWithZeros()
    {
        using var services = TelemetryTestServices.Build(reader: new TestCircuitStateReader(Payment, Inventory));

        var stats = services.GetRequiredService<ISecureMesh>().GetStats();

        Assert.Equal([Payment, Inventory], stats.ConnectedServices);
        var empty = new MeshMetricsSnapshot { CircuitBreakerState = CircuitState.Closed };
        Assert.Equal(empty, stats.Metrics);
        Assert.Equal([empty, empty], stats.Services.Values);
    }

    [Fact]
    public void GetStats_NoClientRegistered_HasNoConnectedServices()
    {
        using var services = TelemetryTestServices.Build();

        var stats = services.GetRequiredService<ISecureMesh>().GetStats();

        Assert.Equal((TelemetryTestServices.ServiceId, 0, 0), (stats.Service, stats.ConnectedServices.Count, stats.Services.Count));
    }

    [Fact]
    public void GetStats_CallsToAServiceWithoutRegisteredClient_ListedUnderServicesButNotConnected()
    {
        using var services = TelemetryTestServices.Build(reader: new TestCircuitStateReader(Inventory));
        var metrics = services.GetRequiredService<MeshMetrics>();

        metrics.CallCompleted(Payment, Charge, StatusCode.Unavailable, TimeSpan.FromMilliseconds(4));
        metrics.CircuitStateChanged(Payment, CircuitState.Closed, CircuitState.Open);

        var stats = services.GetRequiredService<ISecureMesh>().GetStats();

        Assert.Equal([Inventory], stats.ConnectedServices);
        Assert.Equal([Inventory, Payment], stats.Services.Keys);
        Assert.Equal((1L, 1L, CircuitState.Open), (stats.Services[Payment].MessagesSent, stats.Services[Payment].MessagesFailed, stats.Services[Payment].CircuitBreakerState));
        Assert.Equal(CircuitState.Open, stats.Metrics.CircuitBreakerState);
    }

    [Fact]
    public void AddSecureMesh_ResolvedTwice_GivesOneMeshAndOneMetrics()
    {
        using var services = TelemetryTestServices.Build();

        Assert.Same(services.GetRequiredService<ISecureMesh>(), services.GetRequiredService<ISecureMesh>());
        Assert.Same(services.GetRequiredService<MeshMetrics>(), services.GetRequiredService<MeshMetrics>());
    }

    private static (long Sent, long Failed, long Retries, long Allowed, long Blocked) Counts(MeshMetricsSnapshot m)
        => (m.MessagesSent, m.MessagesFailed, m.Retries, m.RateLimitAllowed, m.RateLimitBlocked);
}
