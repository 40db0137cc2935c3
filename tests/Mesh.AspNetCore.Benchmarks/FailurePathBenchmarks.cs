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
    private Bench.BenchClient _failingInProcess = null!;
    private MeshClientHost _meshHost = null!;
    private IMeshClient<Bench.BenchClient> _mesh = null!;

    [GlobalSetup]
    public void Setup()
    {
        _server = BenchmarkServer.Start();
        _channel = _server.CreateChannel();
        _raw = new Bench.BenchClient(_channel);
        _failingInProcess = new Bench.BenchClient(new FailingCallInvoker());
        _raw.Ping(_request);

        // Every pattern on, with a short backoff so that the setup opens the breaker quickly, and a day-long break so
        // that it stays open for the whole run.
        var configuration = MeshConfiguration.Client(_server.Address);
        configuration["Mesh:Resilience:Retry:InitialDelay"] = "1";
        configuration["Mesh:Resilience:CircuitBreaker:Timeout"] = "86400000";
        _meshHost = MeshClientHost.Start(configuration);
        _mesh = _meshHost.Client;
        for (var i = 0; i < 100 && _mesh.CircuitState != CircuitState.Open; i++)
        {
            try
            {
                _mesh.Client.Fail(_request);
            }
            catch (RpcException)
            {
            }
        }

        if (_mesh.CircuitState != CircuitState.Open)
        {
            throw new InvalidOperationException("The failing calls did not open the circuit breaker.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _meshHost.Dispose();
        _channel.Dispose();
        _server.Dispose();
    }

    [Benchmark(Description = "Call rejected by the mesh's open circuit breaker")]
    public async Task<StatusCode> OpenBreakerRejection()
    {
        try
        {
            await _mesh.Client.PingAsync(_request);
            throw new InvalidOperationException("The open circuit breaker let a call through.");
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
        {
            return ex.StatusCode;
        }
    }

    [Benchmark(Description = "Call failing in-process, no network, no mesh (an RpcException alone)")]
    public async Task<StatusCode> ExceptionFloor()
    {
        try
        {
            await _failingInProcess.PingAsync(_request);
            throw new InvalidOperationException("The failing invoker succeeded.");
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
        {
            return ex.StatusCode;
        }
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
