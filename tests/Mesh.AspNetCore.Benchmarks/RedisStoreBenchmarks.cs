using System.Globalization;
using System.Net;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.AspNetCore.Benchmarks.Infrastructure;
using Mesh.AspNetCore.Benchmarks.Protos;
using Mesh.AspNetCore.RateLimiting.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// Class 14, the shared store (<c>Store: Redis</c>) against the server of <c>MESH_TEST_REDIS</c>, or an embedded Garnet:
/// (a) an admitted decision against a bare PING of the same connection to the same server; (b) a known-spent caller's
/// rejection, which makes no round trip, against the memory store's rejection; (c) 64 concurrent gRPC callers over
/// loopback on the Redis store against the memory store.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class RedisStoreBenchmarks
{
    private const int ConcurrentCallers = 64;

    private readonly PingRequest _request = new() { Text = "ping" };
    private BenchmarkStore _store = null!;
    private ServiceProvider _decisions = null!;
    private IDatabase _database = null!;
    private RedisRateLimitStore _redisStore = null!;
    private InboundRateLimitGate _spentGate = null!;
    private InboundRateLimitGate _memorySpentGate = null!;
    private ServiceProvider _memoryDecisions = null!;
    private ServiceProvider _spentDecisions = null!;
    private RateLimitOptions _unlimited = null!;
    private HttpContext _spentCaller = null!;
    private BenchmarkServer _memoryServer = null!;
    private BenchmarkServer _redisServer = null!;
    private GrpcChannel _memoryChannel = null!;
    private GrpcChannel _redisChannel = null!;
    private Bench.BenchClient _memoryClient = null!;
    private Bench.BenchClient _redisClient = null!;
    private CallOptions[] _callers = [];

    [GlobalSetup]
    public void Setup()
    {
        _store = BenchmarkStore.Start();
        var prefix = $"bench-{Guid.NewGuid():N}:";

        _decisions = Decisions(_store.RateLimited(int.MaxValue, prefix));
        _redisStore = _decisions.GetRequiredService<RedisRateLimitStore>();
        _unlimited = _decisions.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<SecureMeshOptions>>().CurrentValue.Resilience.RateLimit;
        _database = _decisions.GetRequiredService<RedisConnection>().GetAsync().GetAwaiter().GetResult().GetDatabase();

        _spentDecisions = Decisions(_store.RateLimited(1, prefix));
        _spentGate = _spentDecisions.GetRequiredService<InboundRateLimitGate>();
        _memoryDecisions = Decisions(MeshConfiguration.RateLimited(1));
        _memorySpentGate = _memoryDecisions.GetRequiredService<InboundRateLimitGate>();
        _spentCaller = new DefaultHttpContext();
        _spentCaller.Connection.RemoteIpAddress = IPAddress.Loopback;
        _spentCaller.Request.Headers["x-mesh-service-id"] = "spent-caller";
        for (var i = 0; i < 3; i++)
        {
            _spentGate.AdmitAsync(_spentCaller, "grpc").AsTask().GetAwaiter().GetResult();
            _memorySpentGate.AdmitAsync(_spentCaller, "grpc").AsTask().GetAwaiter().GetResult();
        }

        if (_spentGate.AdmitAsync(_spentCaller, "grpc") is not { IsCompletedSuccessfully: true, Result.IsAdmitted: false })
        {
            throw new InvalidOperationException("The spent caller is not rejected locally.");
        }

        _memoryServer = BenchmarkServer.Start(MeshConfiguration.RateLimited(int.MaxValue), s => s.AddSecureMesh());
        _redisServer = BenchmarkServer.Start(_store.RateLimited(int.MaxValue, prefix + "grpc:"), s => s.AddSecureMesh());
        _memoryChannel = _memoryServer.CreateChannel();
        _redisChannel = _redisServer.CreateChannel();
        _memoryClient = new Bench.BenchClient(_memoryChannel);
        _redisClient = new Bench.BenchClient(_redisChannel);
        _callers = new CallOptions[ConcurrentCallers];
        for (var i = 0; i < ConcurrentCallers; i++)
        {
            _callers[i] = new CallOptions(headers: new Metadata { { "x-mesh-service-id", "caller-" + i.ToString("D2", CultureInfo.InvariantCulture) } });
        }

        SixtyFourCallersRedis().GetAwaiter().GetResult();
        SixtyFourCallersMemory().GetAwaiter().GetResult();
        Console.WriteLine($"// Store: {_store.Name} at {_store.Configuration}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _memoryChannel.Dispose();
        _redisChannel.Dispose();
        _memoryServer.Dispose();
        _redisServer.Dispose();
        _decisions.Dispose();
        _spentDecisions.Dispose();
        _memoryDecisions.Dispose();
        _store.Dispose();
    }

    [Benchmark(Baseline = true, Description = "PING, same connection and server")]
    [BenchmarkCategory("14a store round trip")]
    public Task<TimeSpan> Ping() => _database.PingAsync();

    [Benchmark(Description = "Admitted decision on the store (one script)")]
    [BenchmarkCategory("14a store round trip")]
    public async Task<bool> AdmittedOnStore() => (await _redisStore.AcquireAsync(CallerKey.ForService("admitted-caller"), _unlimited)).IsAdmitted;

    [Benchmark(Baseline = true, Description = "Rejection, memory store")]
    [BenchmarkCategory("14b known-spent caller")]
    public bool RejectedMemory() => _memorySpentGate.AdmitAsync(_spentCaller, "grpc").Result.IsAdmitted;

    [Benchmark(Description = "Rejection of a known-spent caller, Redis store (no round trip)")]
    [BenchmarkCategory("14b known-spent caller")]
    public bool RejectedKnownSpent() => _spentGate.AdmitAsync(_spentCaller, "grpc").Result.IsAdmitted;

    [Benchmark(Baseline = true, OperationsPerInvoke = ConcurrentCallers, Description = "64 concurrent gRPC callers, memory store")]
    [BenchmarkCategory("14c gRPC throughput")]
    public Task SixtyFourCallersMemory() => CallAllAsync(_memoryClient);

    [Benchmark(OperationsPerInvoke = ConcurrentCallers, Description = "64 concurrent gRPC callers, Redis store")]
    [BenchmarkCategory("14c gRPC throughput")]
    public Task SixtyFourCallersRedis() => CallAllAsync(_redisClient);

    private static ServiceProvider Decisions(Dictionary<string, string?> configuration)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSecureMesh(new ConfigurationBuilder().AddInMemoryCollection(configuration).Build().GetSection("Mesh"));
        return services.BuildServiceProvider();
    }

    private Task CallAllAsync(Bench.BenchClient client)
    {
        var calls = new Task[ConcurrentCallers];
        for (var i = 0; i < ConcurrentCallers; i++)
        {
            calls[i] = client.PingAsync(_request, _callers[i]).ResponseAsync;
        }

        return Task.WhenAll(calls);
    }
}
