using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using Grpc.Core;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// What recording one finished client call costs the mesh's telemetry (the <c>ISecureMesh.GetStats()</c> figures and
/// the <c>Mesh.AspNetCore</c> meter), with nobody listening to the meter and with a listener such as OpenTelemetry's.
/// </summary>
[MemoryDiagnoser]
public class MeshMetricsBenchmarks
{
    private static readonly TimeSpan s_duration = TimeSpan.FromMilliseconds(3);
    private ServiceProvider _quietServices = null!;
    private ServiceProvider _listenedServices = null!;
    private MeterListener _listener = null!;
    private MeshMetrics _quiet = null!;
    private MeshMetrics _listened = null!;
    private long _measurements;

    [GlobalSetup]
    public void Setup()
    {
        _quietServices = Build();
        _listenedServices = Build();
        _quiet = _quietServices.GetRequiredService<MeshMetrics>();
        _listened = _listenedServices.GetRequiredService<MeshMetrics>();

        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == MeshMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, _listenedServices.GetRequiredService<IMeterFactory>()))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((_, _, _, _) => Interlocked.Increment(ref _measurements));
        _listener.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref _measurements));
        _listener.Start();

        _quiet.CallCompleted("inventory-service", "/inventory.Inventory/Reserve", StatusCode.OK, s_duration);
        _listened.CallCompleted("inventory-service", "/inventory.Inventory/Reserve", StatusCode.OK, s_duration);
        if (Volatile.Read(ref _measurements) == 0)
        {
            throw new InvalidOperationException("The listener saw no measurement.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _listener.Dispose();
        _quietServices.Dispose();
        _listenedServices.Dispose();
    }

    [Benchmark(Baseline = true, Description = "CallCompleted, nobody listening")]
    public void NobodyListening() => _quiet.CallCompleted("inventory-service", "/inventory.Inventory/Reserve", StatusCode.OK, s_duration);

    [Benchmark(Description = "CallCompleted, a meter listener attached")]
    public void Listened() => _listened.CallCompleted("inventory-service", "/inventory.Inventory/Reserve", StatusCode.OK, s_duration);

    private static ServiceProvider Build()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSecureMesh(o => o.ServiceId = "bench-client");
        return services.BuildServiceProvider();
    }
}
