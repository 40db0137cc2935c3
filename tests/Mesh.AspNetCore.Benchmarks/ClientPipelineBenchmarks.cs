using BenchmarkDotNet.Attributes;
using Grpc.Core.Interceptors;
using Mesh.AspNetCore.Benchmarks.Infrastructure;
using Mesh.AspNetCore.Benchmarks.Protos;
using Mesh.AspNetCore.Resilience.Internal;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.Extensions.DependencyInjection;
using Polly;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// Class 1, in-process: a unary call through a client pipeline whose call has already completed (no network), happy
/// path. Baseline: the same retry and breaker built by hand with Polly. Goal: mesh / Polly time &lt;= 1.10 and no
/// more bytes allocated per call than Polly.
/// </summary>
/// <remarks>
/// The mesh rows use the interceptors that <c>AddClient</c> registers, created from a started host as the client
/// factory creates them: the resilience interceptor alone (retry + breaker, the comparison with Polly), and the whole
/// chain a mesh client runs (the <c>x-mesh-service-id</c> header, then retry + breaker).
/// </remarks>
[MemoryDiagnoser]
public class ClientPipelineBenchmarks
{
    private readonly PingRequest _request = new() { Text = "ping" };
    private MeshClientHost _meshHost = null!;
    private Bench.BenchClient _none = null!;
    private Bench.BenchClient _polly = null!;
    private Bench.BenchClient _meshResilience = null!;
    private Bench.BenchClient _meshChain = null!;
    private Bench.BenchClient _meshInterceptorOnly = null!;

    [GlobalSetup]
    public void Setup()
    {
        var invoker = new CompletedCallInvoker<PingReply>(BenchService.Reply);
        _none = new Bench.BenchClient(invoker);
        _polly = new Bench.BenchClient(invoker.Intercept(new PollyInterceptor(PollyInterceptor.BuildPipeline())));

        // Discovery needs an address; the completed call never goes there.
        _meshHost = MeshClientHost.Start(MeshConfiguration.Client(new Uri("http://127.0.0.1:9")));
        var interceptors = _meshHost.CreateClientInterceptors();
        _meshResilience = new Bench.BenchClient(invoker.Intercept(interceptors.OfType<ResilienceInterceptor>().Single()));
        _meshChain = new Bench.BenchClient(invoker.Intercept(interceptors));
        _meshInterceptorOnly = new Bench.BenchClient(invoker.Intercept(new ResilienceInterceptor(
            MeshConfiguration.BenchServiceId,
            ResiliencePipeline.Empty,
            _meshHost.Services.GetRequiredService<MeshMetrics>(),
            _meshHost.Services.GetRequiredService<TimeProvider>())));
    }

    [GlobalCleanup]
    public void Cleanup() => _meshHost.Dispose();

    [Benchmark(Baseline = true, Description = "Polly by hand: retry + circuit breaker")]
    public async Task<PingReply> PollyByHand() => await _polly.PingAsync(_request);

    [Benchmark(Description = "Mesh: retry + circuit breaker")]
    public async Task<PingReply> Mesh() => await _meshResilience.PingAsync(_request);

    [Benchmark(Description = "Mesh: whole client chain (service-id header, retry, breaker)")]
    public async Task<PingReply> MeshClientChain() => await _meshChain.PingAsync(_request);

    [Benchmark(Description = "Mesh interceptor around an empty pipeline (its own cost)")]
    public async Task<PingReply> MeshInterceptorOnly() => await _meshInterceptorOnly.PingAsync(_request);

    [Benchmark(Description = "No pipeline")]
    public async Task<PingReply> NoPipeline() => await _none.PingAsync(_request);
}
