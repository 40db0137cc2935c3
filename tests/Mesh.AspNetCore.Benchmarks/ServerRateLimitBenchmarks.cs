using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.AspNetCore.Benchmarks.Infrastructure;
using Mesh.AspNetCore.Benchmarks.Protos;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// Class 4, over the wire: unary calls over loopback HTTP/2 to a server with the mesh's inbound rate limit against
/// one without it; 10,000 active caller partitions against 1; a rejected call against an admitted one.
/// </summary>
/// <remarks>Allocations count both ends of the call: client and server run in this process.</remarks>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class ServerRateLimitBenchmarks
{
    private const int Callers = 10_000;

    private readonly PingRequest _request = new() { Text = "ping" };
    private BenchmarkServer _plainServer = null!;
    private BenchmarkServer _limitedServer = null!;
    private BenchmarkServer _exhaustedServer = null!;
    private GrpcChannel[] _channels = [];
    private Bench.BenchClient _plain = null!;
    private Bench.BenchClient _limited = null!;
    private Bench.BenchClient _exhausted = null!;
    private RawGrpcHttpClient _rawPlain = null!;
    private RawGrpcHttpClient _rawAdmitted = null!;
    private RawGrpcHttpClient _rawRejected = null!;
    private RawGrpcHttpClient _rawFailing = null!;
    private CallOptions _oneCaller;
    private CallOptions[] _manyCallers = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _plainServer = BenchmarkServer.Start();
        _limitedServer = BenchmarkServer.Start(MeshConfiguration.RateLimited(int.MaxValue), s => s.AddSecureMesh());
        _exhaustedServer = BenchmarkServer.Start(MeshConfiguration.RateLimited(1), s => s.AddSecureMesh());
        _channels = [_plainServer.CreateChannel(), _limitedServer.CreateChannel(), _exhaustedServer.CreateChannel()];
        _plain = new Bench.BenchClient(_channels[0]);
        _limited = new Bench.BenchClient(_channels[1]);
        _exhausted = new Bench.BenchClient(_channels[2]);

        _oneCaller = CallerOptions("caller-single");
        _manyCallers = new CallOptions[Callers];
        for (var i = 0; i < Callers; i++)
        {
            _manyCallers[i] = CallerOptions("caller-" + i.ToString("D5", CultureInfo.InvariantCulture));
        }

        // Every partition is active (the window is a day long) before the first measured call.
        _limited.Ping(_request, _oneCaller);
        Parallel.ForEach(_manyCallers, new ParallelOptions { MaxDegreeOfParallelism = 8 }, options => _limited.Ping(_request, options));

        // The caller (127.0.0.1) uses its one request of the day: every later call is rejected.
        _exhausted.Ping(_request);

        _rawPlain = new RawGrpcHttpClient(_plainServer.Address, "/mesh.benchmarks.Bench/Ping", _request);
        _rawAdmitted = new RawGrpcHttpClient(_limitedServer.Address, "/mesh.benchmarks.Bench/Ping", _request);
        _rawRejected = new RawGrpcHttpClient(_exhaustedServer.Address, "/mesh.benchmarks.Bench/Ping", _request);
        _rawFailing = new RawGrpcHttpClient(_plainServer.Address, "/mesh.benchmarks.Bench/Fail", _request);
        if (_rawAdmitted.CallAsync().GetAwaiter().GetResult() != (int)StatusCode.OK
            || _rawRejected.CallAsync().GetAwaiter().GetResult() != (int)StatusCode.ResourceExhausted)
        {
            throw new InvalidOperationException("The raw HTTP/2 calls do not end as expected.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }

        _rawPlain.Dispose();
        _rawAdmitted.Dispose();
        _rawRejected.Dispose();
        _rawFailing.Dispose();
        _plainServer.Dispose();
        _limitedServer.Dispose();
        _exhaustedServer.Dispose();
    }

    [Benchmark(Baseline = true, Description = "No rate limit (plain server)")]
    [BenchmarkCategory("4a admitted")]
    public async Task<PingReply> NoInterceptor() => await _plain.PingAsync(_request);

    [Benchmark(Description = "Mesh rate limit, under the limit")]
    [BenchmarkCategory("4a admitted")]
    public async Task<PingReply> UnderLimit() => await _limited.PingAsync(_request);

    [Benchmark(Baseline = true, Description = "1 active caller partition")]
    [BenchmarkCategory("4b partitions")]
    public async Task<PingReply> OneCaller() => await _limited.PingAsync(_request, _oneCaller);

    [Benchmark(Description = "10,000 active caller partitions")]
    [BenchmarkCategory("4b partitions")]
    public async Task<PingReply> TenThousandCallers()
    {
        var options = _manyCallers[_next];
        _next = _next + 1 == Callers ? 0 : _next + 1;
        return await _limited.PingAsync(_request, options);
    }

    [Benchmark(Baseline = true, Description = "Admitted call")]
    [BenchmarkCategory("4c decision (typed client)")]
    public async Task<PingReply> Admitted() => await _limited.PingAsync(_request);

    [Benchmark(Description = "Rejected call, the typed client throws RpcException")]
    [BenchmarkCategory("4c decision (typed client)")]
    public async Task<StatusCode> Rejected()
    {
        try
        {
            await _exhausted.PingAsync(_request);
            throw new InvalidOperationException("The exhausted server admitted a call.");
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted)
        {
            return ex.StatusCode;
        }
    }

    [Benchmark(Baseline = true, Description = "Plain server (no mesh), raw HTTP/2 frames")]
    [BenchmarkCategory("4d decision (raw HTTP/2)")]
    public Task<int> PlainRaw() => _rawPlain.CallAsync();

    [Benchmark(Description = "Admitted call, raw HTTP/2 frames")]
    [BenchmarkCategory("4d decision (raw HTTP/2)")]
    public Task<int> AdmittedRaw() => _rawAdmitted.CallAsync();

    [Benchmark(Description = "Rejected call, raw HTTP/2 frames")]
    [BenchmarkCategory("4d decision (raw HTTP/2)")]
    public Task<int> RejectedRaw() => _rawRejected.CallAsync();

    [Benchmark(Description = "Handler throws RpcException (no mesh), raw HTTP/2 frames")]
    [BenchmarkCategory("4d decision (raw HTTP/2)")]
    public Task<int> HandlerFailsRaw() => _rawFailing.CallAsync();

    private static CallOptions CallerOptions(string serviceId) =>
        new(headers: new Metadata { { "x-mesh-service-id", serviceId } });
}
