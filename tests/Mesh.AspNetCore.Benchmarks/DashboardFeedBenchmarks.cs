using System.Buffers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Grpc.Core;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// What one snapshot of the dashboard's feed costs the server, against one <c>/mesh/stats</c> body (the same stats,
/// serialized alone): three target services with calls, ten breaker transitions each and five minutes of latency
/// windows. A stream's first event carries every latency point; the next ones only the new points.
/// </summary>
[MemoryDiagnoser]
public class DashboardFeedBenchmarks
{
    private static readonly string[] s_services = ["inventory-service", "payment-service", "shipping-service"];
    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);
    private ServiceProvider _services = null!;
    private ISecureMesh _mesh = null!;
    private DashboardFeed _feed = null!;
    private Dictionary<string, long> _sent = null!;

    [GlobalSetup]
    public void Setup()
    {
        var collection = new ServiceCollection().AddLogging();
        collection.AddSecureMesh(o => o.ServiceId = "bench-order-service");
        _services = collection.BuildServiceProvider();
        _mesh = _services.GetRequiredService<ISecureMesh>();
        _feed = _services.GetRequiredService<DashboardFeed>();
        var metrics = _services.GetRequiredService<MeshMetrics>();
        var history = _services.GetRequiredService<DashboardLatencyHistory>();
        for (var window = 0; window < DashboardConstants.LatencyHistoryLength; window++)
        {
            foreach (var service in s_services)
            {
                for (var call = 0; call < 20; call++)
                {
                    metrics.CallCompleted(service, "/bench.Bench/Ping", call % 10 == 0 ? StatusCode.Unavailable : StatusCode.OK, TimeSpan.FromMilliseconds(1 + call));
                }
            }

            history.Sample();
        }

        foreach (var service in s_services)
        {
            for (var i = 0; i < 5; i++)
            {
                metrics.CircuitStateChanged(service, CircuitState.Closed, CircuitState.Open);
                metrics.CircuitStateChanged(service, CircuitState.Open, CircuitState.Closed);
            }
        }

        _sent = new Dictionary<string, long>(StringComparer.Ordinal);
        var first = Write(_sent);
        var next = Write(_sent);
        var stats = StatsBody();
        Console.WriteLine($"// bytes: /mesh/stats {stats}, feed first event {first}, feed next event {next}");
    }

    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();

    [Benchmark(Baseline = true, Description = "/mesh/stats body: GetStats + JSON")]
    public int StatsBody()
    {
        _buffer.ResetWrittenCount();
        using var writer = new Utf8JsonWriter(_buffer);
        JsonSerializer.Serialize(writer, _mesh.GetStats(), MeshStatsJsonContext.Default.MeshStats);
        return _buffer.WrittenCount;
    }

    [Benchmark(Description = "feed snapshot, a stream's first event (all latency points)")]
    public int FirstEvent() => Write(null);

    [Benchmark(Description = "feed snapshot, a stream's next event (new points only)")]
    public int NextEvent() => Write(_sent);

    private int Write(Dictionary<string, long>? sent)
    {
        _buffer.ResetWrittenCount();
        _feed.Write(_buffer, sent);
        return _buffer.WrittenCount;
    }
}
