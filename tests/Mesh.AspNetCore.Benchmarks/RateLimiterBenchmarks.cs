using System.Globalization;
using System.Net;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Mesh.AspNetCore.Benchmarks.Infrastructure;
using Mesh.AspNetCore.RateLimiting.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// Class 4, in-process: the per-request work of the inbound rate-limit decision (resolve the caller,
/// acquire from its partition, record the decision), with 10,000 active caller partitions against 1, and a rejected
/// request against an admitted one. No network, so the limiter's own cost is not hidden by the call's.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class RateLimiterBenchmarks
{
    private const int Callers = 10_000;

    private IHost _limitedHost = null!;
    private IHost _exhaustedHost = null!;
    private InboundRateLimitGate _limited = null!;
    private InboundRateLimitGate _exhausted = null!;
    private MeshRateLimiter _limiter = null!;
    private IOptionsMonitor<SecureMeshOptions> _limiterOptions = null!;
    private HttpContext _oneCaller = null!;
    private HttpContext _request = null!;
    private string[] _callerIds = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _limitedHost = StartHost(MeshConfiguration.RateLimited(int.MaxValue));
        _exhaustedHost = StartHost(MeshConfiguration.RateLimited(1));
        _limited = _limitedHost.Services.GetRequiredService<InboundRateLimitGate>();
        _exhausted = _exhaustedHost.Services.GetRequiredService<InboundRateLimitGate>();
        _limiter = _limitedHost.Services.GetRequiredService<MeshRateLimiter>();
        _limiterOptions = _limitedHost.Services.GetRequiredService<IOptionsMonitor<SecureMeshOptions>>();

        _oneCaller = Request("caller-single");
        _request = Request("caller-single");
        _callerIds = new string[Callers];
        for (var i = 0; i < Callers; i++)
        {
            _callerIds[i] = "caller-" + i.ToString("D5", CultureInfo.InvariantCulture);
            _request.Request.Headers["x-mesh-service-id"] = _callerIds[i];
            _limited.TryAdmit(_request, "grpc", out _);
        }

        _limited.TryAdmit(_oneCaller, "grpc", out _);
        if (!_exhausted.TryAdmit(_oneCaller, "grpc", out _) || _exhausted.TryAdmit(_oneCaller, "grpc", out _))
        {
            throw new InvalidOperationException("The exhausted limiter should admit one request, then reject.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _limitedHost.Dispose();
        _exhaustedHost.Dispose();
    }

    // Each request is a fresh, cache-hot HttpContext in a server: one context is reused and only its caller header
    // changes, so that the 10,000-caller row measures the limiter's partitions rather than 10,000 cold test contexts.
    [Benchmark(Baseline = true, Description = "Limiter: 1 active caller partition")]
    [BenchmarkCategory("4b partitions (in-process)")]
    public bool OneCaller()
    {
        _request.Request.Headers["x-mesh-service-id"] = "caller-single";
        return _limited.TryAdmit(_request, "grpc", out _);
    }

    [Benchmark(Description = "Limiter: 10,000 active caller partitions")]
    [BenchmarkCategory("4b partitions (in-process)")]
    public bool TenThousandCallers()
    {
        _request.Request.Headers["x-mesh-service-id"] = _callerIds[_next];
        _next = _next + 1 == Callers ? 0 : _next + 1;
        return _limited.TryAdmit(_request, "grpc", out _);
    }

    [Benchmark(Baseline = true, Description = "Limiter: admitted request")]
    [BenchmarkCategory("4c decision (in-process)")]
    public bool Admitted() => _limited.TryAdmit(_oneCaller, "grpc", out _);

    [Benchmark(Description = "Limiter: rejected request")]
    [BenchmarkCategory("4c decision (in-process)")]
    public bool Rejected() => _exhausted.TryAdmit(_oneCaller, "grpc", out _);

    // Group 4e: one busy caller (an upstream service calling over many connections) whose requests arrive on both cores
    // at once, against two callers with one core each. The difference is what concurrent requests of one caller cost
    // each other in the limiter: waiting for the window's lock, or retrying a compare-and-swap.
    private const int RequestsPerThread = 20_000;

    [Benchmark(Baseline = true, OperationsPerInvoke = 2 * RequestsPerThread, Description = "Limiter: two callers, one per thread (per request)")]
    [BenchmarkCategory("4e one busy caller on two threads (in-process)")]
    public void TwoCallersTwoThreads() => OnTwoThreads(CallerKey.ForService("caller-a"), CallerKey.ForService("caller-b"));

    [Benchmark(OperationsPerInvoke = 2 * RequestsPerThread, Description = "Limiter: one caller from two threads at once (per request)")]
    [BenchmarkCategory("4e one busy caller on two threads (in-process)")]
    public void OneCallerTwoThreads() => OnTwoThreads(CallerKey.ForService("caller-a"), CallerKey.ForService("caller-a"));

    private void OnTwoThreads(CallerKey first, CallerKey second)
    {
        var limiter = _limiter;
        var options = _limiterOptions;
        Parallel.Invoke(() => Admit(limiter, options, first), () => Admit(limiter, options, second));

        // The limits are read for every request, as the gate reads them.
        static void Admit(MeshRateLimiter limiter, IOptionsMonitor<SecureMeshOptions> options, CallerKey caller)
        {
            for (var i = 0; i < RequestsPerThread; i++)
            {
                limiter.TryAcquire(caller, options.CurrentValue.Resilience.RateLimit, out _);
            }
        }
    }

    private static IHost StartHost(Dictionary<string, string?> configuration)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(configuration);
        builder.Services.AddSecureMesh();
        var host = builder.Build();
        host.Start();
        return host;
    }

    private static DefaultHttpContext Request(string serviceId)
    {
        var context = new DefaultHttpContext();
        context.Request.Headers["x-mesh-service-id"] = serviceId;
        context.Connection.RemoteIpAddress = IPAddress.Loopback;
        return context;
    }
}
