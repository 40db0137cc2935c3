using System.Diagnostics.Metrics;
using Grpc.Core;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Mesh.AspNetCore.Tests.Telemetry;

public sealed class MeshMetricsTests
{
    private const string Inventory = "inventory-service";
    private const string Payment = "payment-service";
    private const string Reserve = "/inventory.Inventory/Reserve";
    private const string Charge = "/payment.Payment/Charge";

    [Fact]
    public void CallCompleted_ScriptedCalls_CountsEachCallWithServiceMethodOutcomeAndStatus()
    {
        using var services = TelemetryTestServices.Build();
        using var calls = Collect<long>(services, MeshMetrics.ClientCallsName);
        var metrics = services.GetRequiredService<MeshMetrics>();

        metrics.CallCompleted(Inventory, Reserve, StatusCode.OK, TimeSpan.FromMilliseconds(10));
        metrics.CallCompleted(Inventory, Reserve, StatusCode.OK, TimeSpan.FromMilliseconds(20));
        metrics.CallCompleted(Inventory, Reserve, StatusCode.Unavailable, TimeSpan.FromMilliseconds(30));
        metrics.CallCompleted(Payment, Charge, StatusCode.DeadlineExceeded, TimeSpan.FromMilliseconds(40));

        var measured = calls.GetMeasurementSnapshot();
        Assert.All(measured, m => Assert.Equal(1, m.Value));
        Assert.Equal(
            [
                (Inventory, Reserve, "success", "OK"),
                (Inventory, Reserve, "success", "OK"),
                (Inventory, Reserve, "failure", "UNAVAILABLE"),
                (Payment, Charge, "failure", "DEADLINE_EXCEEDED"),
            ],
            measured.Select(m => (
                m.Tags[MeshMetrics.ServiceTag],
                m.Tags[MeshMetrics.MethodTag],
                m.Tags[MeshMetrics.OutcomeTag],
                m.Tags[MeshMetrics.StatusCodeTag])));
        Assert.All(measured, m => Assert.Equal(4, m.Tags.Count));
        Assert.Equal("{call}", calls.Instrument!.Unit);
    }

    [Fact]
    public void CallCompleted_ScriptedCalls_RecordsDurationInSecondsWithServiceMethodAndOutcome()
    {
        using var services = TelemetryTestServices.Build();
        using var durations = Collect<double>(services, MeshMetrics.ClientCallDurationName);
        var metrics = services.GetRequiredService<MeshMetrics>();

        metrics.CallCompleted(Inventory, Reserve, StatusCode.OK, TimeSpan.FromMilliseconds(250));
        metrics.CallCompleted(Payment, Charge, StatusCode.Internal, TimeSpan.FromSeconds(3));

        var measured = durations.GetMeasurementSnapshot();
        Assert.Equal([0.25, 3.0], measured.Select(m => m.Value));
        Assert.Equal(
            [(Inventory, Reserve, "success"), (Payment, Charge, "failure")],
            measured.Select(m => (m.Tags[MeshMetrics.ServiceTag], m.Tags[MeshMetrics.MethodTag], m.Tags[MeshMetrics.OutcomeTag])));
        Assert.All(measured, m => Assert.Equal(3, m.Tags.Count));
        Assert.Equal("s", durations.Instrument!.Unit);
    }

    [Fact]
    public void RetryScheduled_ScriptedRetries_CountsEachWithServiceMethodAndStatus()
    {
        using var services = TelemetryTestServices.Build();
        using var retries = Collect<long>(services, MeshMetrics.ClientRetriesName);
        var metrics = services.GetRequiredService<MeshMetrics>();

        metrics.RetryScheduled(Inventory, Reserve, StatusCode.Unavailable);
        metrics.RetryScheduled(Inventory, Reserve, StatusCode.ResourceExhausted);
        metrics.RetryScheduled(Payment, Charge, StatusCode.Aborted);

        var measured = retries.GetMeasurementSnapshot();
        Assert.All(measured, m => Assert.Equal(1, m.Value));
        Assert.Equal(
            [(Inventory, Reserve, "UNAVAILABLE"), (Inventory, Reserve, "RESOURCE_EXHAUSTED"), (Payment, Charge, "ABORTED")],
            measured.Select(m => (m.Tags[MeshMetrics.ServiceTag], m.Tags[MeshMetrics.MethodTag], m.Tags[MeshMetrics.StatusCodeTag])));
        Assert.Equal("{retry}", retries.Instrument!.Unit);
    }

    [Fact]
    public void CircuitStateChanged_ScriptedTransitions_CountsEachWithFromAndToWords()
    {
        using var services = TelemetryTestServices.Build();
        using var transitions = Collect<long>(services, MeshMetrics.CircuitBreakerTransitionsName);
        var metrics = services.GetRequiredService<MeshMetrics>();

        metrics.CircuitStateChanged(Inventory, CircuitState.Closed, CircuitState.Open);
        metrics.CircuitStateChanged(Inventory, CircuitState.Open, CircuitState.HalfOpen);
        metrics.CircuitStateChanged(Inventory, CircuitState.HalfOpen, CircuitState.Closed);

        var measured = transitions.GetMeasurementSnapshot();
        Assert.All(measured, m => Assert.Equal(1, m.Value));
        Assert.Equal(
            [(Inventory, "closed", "open"), (Inventory, "open", "half_open"), (Inventory, "half_open", "closed")],
            measured.Select(m => (m.Tags[MeshMetrics.ServiceTag], m.Tags[MeshMetrics.FromStateTag], m.Tags[MeshMetrics.ToStateTag])));
        Assert.Equal("{transition}", transitions.Instrument!.Unit);
    }

    [Fact]
    public void RateLimitDecision_ScriptedDecisions_CountsEachWithResultAndTransport()
    {
        using var services = TelemetryTestServices.Build();
        using var decisions = Collect<long>(services, MeshMetrics.RateLimitDecisionsName);
        var metrics = services.GetRequiredService<MeshMetrics>();

        metrics.RateLimitDecision(admitted: true, "grpc");
        metrics.RateLimitDecision(admitted: false, "grpc");
        metrics.RateLimitDecision(admitted: true, "http");

        var measured = decisions.GetMeasurementSnapshot();
        Assert.All(measured, m => Assert.Equal(1, m.Value));
        Assert.Equal(
            [("admitted", "grpc"), ("rejected", "grpc"), ("admitted", "http")],
            measured.Select(m => (m.Tags[MeshMetrics.RateLimitResultTag], m.Tags[MeshMetrics.TransportTag])));
        Assert.Equal("{request}", decisions.Instrument!.Unit);
    }

    [Fact]
    public void CircuitStateGauge_RegisteredClients_ReportsEachServiceAsZeroOneOrTwo()
    {
        var reader = new TestCircuitStateReader(Inventory, Payment, "shipping-service");
        reader.Set(Payment, CircuitState.HalfOpen);
        reader.Set("shipping-service", CircuitState.Open);
        using var services = TelemetryTestServices.Build(reader: reader);
        using var gauge = Collect<int>(services, MeshMetrics.CircuitBreakerStateName);
        services.GetRequiredService<MeshMetrics>();

        gauge.RecordObservableInstruments();
        reader.Set("shipping-service", CircuitState.Closed);
        gauge.RecordObservableInstruments();

        Assert.Equal(
            [(Inventory, 0), (Payment, 1), ("shipping-service", 2), (Inventory, 0), (Payment, 1), ("shipping-service", 0)],
            gauge.GetMeasurementSnapshot().Select(m => (m.Tags[MeshMetrics.ServiceTag], m.Value)));
        Assert.Equal("{state}", gauge.Instrument!.Unit);
    }

    [Fact]
    public void CircuitStateGauge_NoRegisteredClients_ReportsStateOfLastRecordedTransition()
    {
        using var services = TelemetryTestServices.Build();
        using var gauge = Collect<int>(services, MeshMetrics.CircuitBreakerStateName);
        var metrics = services.GetRequiredService<MeshMetrics>();

        gauge.RecordObservableInstruments();
        Assert.Empty(gauge.GetMeasurementSnapshot());

        metrics.CircuitStateChanged(Inventory, CircuitState.Closed, CircuitState.Open);
        metrics.CallCompleted(Payment, Charge, StatusCode.OK, TimeSpan.FromMilliseconds(1));
        gauge.RecordObservableInstruments();

        var measured = Assert.Single(gauge.GetMeasurementSnapshot());
        Assert.Equal((Inventory, 2), (measured.Tags[MeshMetrics.ServiceTag], measured.Value));
    }

    [Fact]
    public void Meter_CreatedThroughTheApplicationsMeterFactory_IsNamedMeshAspNetCore()
    {
        using var services = TelemetryTestServices.Build();
        var factory = services.GetRequiredService<IMeterFactory>();
        var published = new List<Instrument>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Scope == factory)
                {
                    lock (published)
                    {
                        published.Add(instrument);
                    }
                }
            },
        };
        listener.Start();

        services.GetRequiredService<MeshMetrics>();

        Assert.All(published, i => Assert.Equal("Mesh.AspNetCore", i.Meter.Name));
        Assert.Equal(
            [
                ("mesh.circuit_breaker.state", "{state}"),
                ("mesh.circuit_breaker.transitions", "{transition}"),
                ("mesh.client.call.duration", "s"),
                ("mesh.client.calls", "{call}"),
                ("mesh.client.retries", "{retry}"),
                ("mesh.client.retries.throttled", "{retry}"),
                ("mesh.rate_limit.decisions", "{request}"),
            ],
            published.Select(i => (i.Name, i.Unit)).Order());
    }

    [Theory]
    [MemberData(nameof(AllStatusCodes))]
    public void StatusCodeName_EveryGrpcStatus_IsTheCanonicalUpperSnakeCaseName(StatusCode status)
    {
        var expected = status == StatusCode.OK
            ? "OK"
            : string.Concat(status.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : c.ToString())).ToUpperInvariant();

        Assert.Equal(expected, MeshMetrics.StatusCodeName(status));
    }

    [Fact]
    public void StatusCodeName_CodeOutsideTheKnownRange_IsTheNumber()
    {
        Assert.Equal("42", MeshMetrics.StatusCodeName((StatusCode)42));
    }

    public static TheoryData<StatusCode> AllStatusCodes() => [.. Enum.GetValues<StatusCode>()];

    private static MetricCollector<T> Collect<T>(IServiceProvider services, string instrumentName)
        where T : struct
        => new(services.GetRequiredService<IMeterFactory>(), MeshMetrics.MeterName, instrumentName);
}
