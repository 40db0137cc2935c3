using BenchmarkDotNet.Attributes;
using Mesh.AspNetCore.Benchmarks.Infrastructure;
using Mesh.AspNetCore.Resilience.Internal;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Polly;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// Where class 1's time goes: the Polly pipelines alone, executing a callback that has already completed, without
/// any gRPC interceptor. Baseline: Polly's own retry + circuit breaker, built by hand.
/// </summary>
[MemoryDiagnoser]
public class ResiliencePipelineBenchmarks
{
    private MeshClientHost _meshHost = null!;
    private ResiliencePipeline _polly = null!;
    private ResiliencePipeline _mesh = null!;
    private ResiliencePipeline _meshWithoutTelemetry = null!;

    [GlobalSetup]
    public void Setup()
    {
        _polly = PollyInterceptor.BuildPipeline();
        _meshHost = MeshClientHost.Start(MeshConfiguration.Client(new Uri("http://127.0.0.1:9")));
        var services = _meshHost.Services;
        _mesh = MeshResiliencePipelines.Get(services, MeshConfiguration.BenchServiceId);

        // The same two strategies, built without the pipeline registry (so without Polly's telemetry).
        var resilience = services.GetRequiredService<IOptionsMonitor<SecureMeshOptions>>().CurrentValue.Resilience;
        var time = services.GetRequiredService<TimeProvider>();
        _meshWithoutTelemetry = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new MeshRetry(resilience.Retry, "bench-service-bare", services.GetRequiredService<MeshMetrics>(), time).StrategyOptions)
            .AddMeshCircuitBreaker(new MeshCircuitBreakerStrategyOptions(
                services.GetRequiredService<CircuitBreakerRegistry>().Get("bench-service-bare"),
                new CircuitBreakerSettings(resilience.CircuitBreaker)))
            .Build();
    }

    [GlobalCleanup]
    public void Cleanup() => _meshHost.Dispose();

    [Benchmark(Baseline = true, Description = "Polly retry + circuit breaker, built by hand")]
    public ValueTask<int> Polly() => Execute(_polly);

    [Benchmark(Description = "Mesh pipeline, as AddClient registers it (with Polly telemetry)")]
    public ValueTask<int> Mesh() => Execute(_mesh);

    [Benchmark(Description = "Mesh retry + breaker strategies, without Polly telemetry")]
    public ValueTask<int> MeshWithoutTelemetry() => Execute(_meshWithoutTelemetry);

    private static async ValueTask<int> Execute(ResiliencePipeline pipeline)
    {
        var context = ResilienceContextPool.Shared.Get();
        try
        {
            var outcome = await pipeline.ExecuteOutcomeAsync(static (_, state) => ValueTask.FromResult(Outcome.FromResult(state)), context, 42);
            return outcome.Result;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }
}
