using BenchmarkDotNet.Attributes;
using Mesh.AspNetCore.Benchmarks.Infrastructure;
using Mesh.AspNetCore.Resilience.Internal;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// Where class 1's time goes: the Polly pipelines alone, executing a callback that has already completed, without
/// any gRPC interceptor. Baseline: Polly's own retry + circuit breaker, built by hand.
/// </summary>
/// <remarks>
/// Polly's telemetry (<c>ConfigureTelemetry</c>, which every pipeline from <c>AddResiliencePipeline</c> has) reports
/// the pipeline's start and end and each attempt to its listener on every call, whether or not anything listens to
/// the <c>Polly</c> meter or logs: the rows with and without it show that cost for both pipelines.
/// </remarks>
[MemoryDiagnoser]
public class ResiliencePipelineBenchmarks
{
    private MeshClientHost _meshHost = null!;
    private MeshClientHost _loggingHost = null!;
    private MeshClientHost _filteredLoggingHost = null!;
    private ResiliencePipeline _meshLogging = null!;
    private ResiliencePipeline _meshFilteredLogging = null!;
    private ResiliencePipeline _polly = null!;
    private ResiliencePipeline _mesh = null!;
    private ResiliencePipeline _meshWithoutTelemetry = null!;
    private ResiliencePipeline _pollyWithTelemetry = null!;
    private ResiliencePipeline _meshWithTelemetryWithoutReload = null!;

    [GlobalSetup]
    public void Setup()
    {
        _polly = PollyInterceptor.BuildPipeline();
        _meshHost = MeshClientHost.Start(MeshConfiguration.Client(new Uri("http://127.0.0.1:9")));
        var services = _meshHost.Services;
        _mesh = MeshResiliencePipelines.Get(services, MeshConfiguration.BenchServiceId);

        // The same two strategies, built without the pipeline registry: without Polly's telemetry, then with it (but
        // without the registry's reload support), to split the registered pipeline's cost.
        var resilience = services.GetRequiredService<IOptionsMonitor<SecureMeshOptions>>().CurrentValue.Resilience;
        var time = services.GetRequiredService<TimeProvider>();
        _meshWithoutTelemetry = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new MeshRetry(resilience.Retry, "bench-service-bare", services.GetRequiredService<MeshMetrics>(), time).StrategyOptions)
            .AddMeshCircuitBreaker(new MeshCircuitBreakerStrategyOptions(
                services.GetRequiredService<CircuitBreakerRegistry>().Get("bench-service-bare"),
                new CircuitBreakerSettings(resilience.CircuitBreaker)))
            .Build();

        // The same registered pipeline in an app whose logs are on at Information, the level of the ASP.NET Core
        // templates, with and without a filter that keeps Polly's category at Warning.
        _loggingHost = MeshClientHost.Start(
            MeshConfiguration.Client(new Uri("http://127.0.0.1:9")),
            logging => logging.SetMinimumLevel(LogLevel.Information).AddProvider(new FormattingLoggerProvider()));
        _meshLogging = MeshResiliencePipelines.Get(_loggingHost.Services, MeshConfiguration.BenchServiceId);
        _filteredLoggingHost = MeshClientHost.Start(
            MeshConfiguration.Client(new Uri("http://127.0.0.1:9")),
            logging => logging.SetMinimumLevel(LogLevel.Information).AddFilter("Polly", LogLevel.Warning).AddProvider(new FormattingLoggerProvider()));
        _meshFilteredLogging = MeshResiliencePipelines.Get(_filteredLoggingHost.Services, MeshConfiguration.BenchServiceId);

        var loggers = services.GetRequiredService<ILoggerFactory>();
        _pollyWithTelemetry = PollyInterceptor.BuildPipeline(loggers);
        _meshWithTelemetryWithoutReload = new ResiliencePipelineBuilder { TimeProvider = time }
            .ConfigureTelemetry(loggers)
            .AddRetry(new MeshRetry(resilience.Retry, "bench-service-bare", services.GetRequiredService<MeshMetrics>(), time).StrategyOptions)
            .AddMeshCircuitBreaker(new MeshCircuitBreakerStrategyOptions(
                services.GetRequiredService<CircuitBreakerRegistry>().Get("bench-service-bare"),
                new CircuitBreakerSettings(resilience.CircuitBreaker)))
            .Build();
    }

    [Benchmark(Baseline = true, Description = "Polly retry + circuit breaker, built by hand")]
    public ValueTask<int> Polly() => Execute(_polly);

    [Benchmark(Description = "Mesh pipeline, as AddClient registers it (with Polly telemetry)")]
    public ValueTask<int> Mesh() => Execute(_mesh);

    [Benchmark(Description = "Mesh pipeline, as AddClient registers it, in an app logging at Information")]
    public ValueTask<int> MeshLoggingAtInformation() => Execute(_meshLogging);

    [Benchmark(Description = "Mesh pipeline, as AddClient registers it, in an app logging at Information, category Polly at Warning")]
    public ValueTask<int> MeshLoggingPollyAtWarning() => Execute(_meshFilteredLogging);

    [Benchmark(Description = "Polly retry + circuit breaker, built by hand, with Polly telemetry")]
    public ValueTask<int> PollyWithTelemetry() => Execute(_pollyWithTelemetry);

    [Benchmark(Description = "Mesh retry + breaker strategies, with Polly telemetry, without reloads")]
    public ValueTask<int> MeshWithTelemetryWithoutReload() => Execute(_meshWithTelemetryWithoutReload);

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
