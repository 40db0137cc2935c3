using BenchmarkDotNet.Attributes;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.AspNetCore.Benchmarks.Infrastructure;
using Mesh.AspNetCore.Benchmarks.Protos;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// Class 3: failure paths. Baseline: a unary call that really fails at the server (UNAVAILABLE over loopback HTTP/2).
/// Goal: a call rejected by an open circuit breaker costs &lt;= 0.1x its time and &lt;= 1 KB.
/// </summary>
[MemoryDiagnoser]
public class FailurePathBenchmarks
{
    private readonly PingRequest _request = new() { Text = "ping" };
    private BenchmarkServer _server = null!;
    private GrpcChannel _channel = null!;
    private Bench.BenchClient _raw = null!;

    [GlobalSetup]
    public void Setup()
    {
        _server = BenchmarkServer.Start();
        _channel = _server.CreateChannel();
        _raw = new Bench.BenchClient(_channel);
        _raw.Ping(_request);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _channel.Dispose();
        _server.Dispose();
    }

    [Benchmark(Baseline = true, Description = "Call that fails at the server (raw client)")]
    public async Task<StatusCode> RealFailure()
    {
        try
        {
            await _raw.FailAsync(_request);
            throw new InvalidOperationException("The failing method succeeded.");
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
        {
            return ex.StatusCode;
        }
    }
}
