using BenchmarkDotNet.Attributes;
using Grpc.Core.Interceptors;
using Mesh.AspNetCore.Benchmarks.Infrastructure;
using Mesh.AspNetCore.Benchmarks.Protos;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// Class 1, in-process: a unary call through a client pipeline whose call has already completed (no network), happy
/// path. Baseline: the same retry and breaker built by hand with Polly. Goal: mesh / Polly time &lt;= 1.10 and no
/// more bytes allocated per call than Polly.
/// </summary>
[MemoryDiagnoser]
public class ClientPipelineBenchmarks
{
    private readonly PingRequest _request = new() { Text = "ping" };
    private Bench.BenchClient _none = null!;
    private Bench.BenchClient _polly = null!;

    [GlobalSetup]
    public void Setup()
    {
        var invoker = new CompletedCallInvoker<PingReply>(BenchService.Reply);
        _none = new Bench.BenchClient(invoker);
        _polly = new Bench.BenchClient(invoker.Intercept(new PollyInterceptor(PollyInterceptor.BuildPipeline())));
    }

    [Benchmark(Baseline = true, Description = "Polly by hand: retry + circuit breaker")]
    public async Task<PingReply> PollyByHand() => await _polly.PingAsync(_request);

    [Benchmark(Description = "No pipeline")]
    public async Task<PingReply> NoPipeline() => await _none.PingAsync(_request);
}
