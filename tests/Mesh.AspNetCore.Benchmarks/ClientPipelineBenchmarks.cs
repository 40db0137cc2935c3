using BenchmarkDotNet.Attributes;
using Grpc.Core.Interceptors;
using Mesh.AspNetCore.Benchmarks.Infrastructure;
using Mesh.AspNetCore.Benchmarks.Protos;
using Mesh.AspNetCore.Resilience.Internal;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Polly;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// Class 1, in-process: a unary call through a client pipeline whose call has already completed (no network), happy
/// path. Baseline: the same retry and breaker built by hand with Polly. Goal: mesh / Polly time &lt;= 1.10 and no
/// more bytes allocated per call than Polly.
/// </summary>
/// <remarks>
/// <para>
/// The mesh's pipeline comes from Polly's pipeline registry, so it has Polly's telemetry (the <c>Polly</c> meter and
/// logs); the baseline has none. A second Polly row has the same telemetry, as a pipeline from <c>AddResiliencePipeline</c> would.
/// </para>
/// <para>
/// The mesh rows use the interceptors that <c>AddClient</c> registers, created from a started host as the client
/// factory creates them: the resilience interceptor alone (retry + breaker, the comparison with Polly), and the whole
/// chain a mesh client runs (the <c>x-mesh-service-id</c> header, then retry + breaker).
/// </para>
/// <para>
/// Safe retries: the default pipeline has the retry budget on (a deposit per call); two rows measure it against the
/// budget off and with <c>OnlyIdempotent</c> on too. Goal: budget + idempotency add at most 50 ns and no allocation.
/// </para>
/// </remarks>
[MemoryDiagnoser]
public class ClientPipelineBenchmarks
{
    private readonly PingRequest _request = new() { Text = "ping" };
    private MeshClientHost _meshHost = null!;
    private Bench.BenchClient _none = null!;
    private Bench.BenchClient _polly = null!;
    private Bench.BenchClient _pollyWithTelemetry = null!;
    private Bench.BenchClient _meshResilience = null!;
    private Bench.BenchClient _meshChain = null!;
    private Bench.BenchClient _meshInterceptorOnly = null!;
    private MeshClientHost _budgetOffHost = null!;
    private MeshClientHost _safeRetriesHost = null!;
    private Bench.BenchClient _meshBudgetOff = null!;
    private Bench.BenchClient _meshSafeRetries = null!;

    [GlobalSetup]
    public void Setup()
    {
        var invoker = new CompletedCallInvoker<PingReply>(BenchService.Reply);
        _none = new Bench.BenchClient(invoker);
        _polly = new Bench.BenchClient(invoker.Intercept(new PollyInterceptor(PollyInterceptor.BuildPipeline())));

        // Discovery needs an address; the completed call never goes there.
        _meshHost = MeshClientHost.Start(MeshConfiguration.Client(new Uri("http://127.0.0.1:9")));
        _pollyWithTelemetry = new Bench.BenchClient(invoker.Intercept(
            new PollyInterceptor(PollyInterceptor.BuildPipeline(_meshHost.Services.GetRequiredService<ILoggerFactory>()))));
        var interceptors = _meshHost.CreateClientInterceptors();
        _meshResilience = new Bench.BenchClient(invoker.Intercept(interceptors.OfType<ResilienceInterceptor>().Single()));
        _meshChain = new Bench.BenchClient(invoker.Intercept(interceptors));
        _meshInterceptorOnly = new Bench.BenchClient(invoker.Intercept(new ResilienceInterceptor(
            MeshConfiguration.BenchServiceId,
            ResiliencePipeline.Empty,
            _meshHost.Services.GetRequiredService<MeshMetrics>(),
            _meshHost.Services.GetRequiredService<TimeProvider>())));

        // Safe retries: the same pipeline with the retry budget off, and with the budget and OnlyIdempotent both on.
        var budgetOff = MeshConfiguration.Client(new Uri("http://127.0.0.1:9"));
        budgetOff["Mesh:Resilience:Retry:Budget:Enabled"] = "false";
        _budgetOffHost = MeshClientHost.Start(budgetOff);
        _meshBudgetOff = new Bench.BenchClient(invoker.Intercept(_budgetOffHost.CreateClientInterceptors().OfType<ResilienceInterceptor>().Single()));
        var safeRetries = MeshConfiguration.Client(new Uri("http://127.0.0.1:9"));
        safeRetries["Mesh:Resilience:Retry:OnlyIdempotent"] = "true";
        safeRetries["Mesh:Resilience:Retry:IdempotentMethods:0"] = "mesh.benchmarks.Bench/*";
        _safeRetriesHost = MeshClientHost.Start(safeRetries);
        _meshSafeRetries = new Bench.BenchClient(invoker.Intercept(_safeRetriesHost.CreateClientInterceptors().OfType<ResilienceInterceptor>().Single()));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _meshHost.Dispose();
        _budgetOffHost.Dispose();
        _safeRetriesHost.Dispose();
    }

    [Benchmark(Baseline = true, Description = "Polly by hand: retry + circuit breaker")]
    public async Task<PingReply> PollyByHand() => await _polly.PingAsync(_request);

    [Benchmark(Description = "Polly by hand: retry + circuit breaker, with Polly telemetry")]
    public async Task<PingReply> PollyByHandWithTelemetry() => await _pollyWithTelemetry.PingAsync(_request);

    [Benchmark(Description = "Mesh: retry + circuit breaker")]
    public async Task<PingReply> Mesh() => await _meshResilience.PingAsync(_request);

    [Benchmark(Description = "Mesh: retry + circuit breaker, retry budget off")]
    public async Task<PingReply> MeshBudgetOff() => await _meshBudgetOff.PingAsync(_request);

    [Benchmark(Description = "Mesh: retry + circuit breaker, retry budget and OnlyIdempotent on")]
    public async Task<PingReply> MeshSafeRetries() => await _meshSafeRetries.PingAsync(_request);

    [Benchmark(Description = "Mesh: whole client chain (service-id header, retry, breaker)")]
    public async Task<PingReply> MeshClientChain() => await _meshChain.PingAsync(_request);

    [Benchmark(Description = "Mesh interceptor around an empty pipeline (its own cost)")]
    public async Task<PingReply> MeshInterceptorOnly() => await _meshInterceptorOnly.PingAsync(_request);

    [Benchmark(Description = "No pipeline")]
    public async Task<PingReply> NoPipeline() => await _none.PingAsync(_request);
}
