using BenchmarkDotNet.Attributes;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Mesh.AspNetCore.Benchmarks.Infrastructure;
using Mesh.AspNetCore.Benchmarks.Protos;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// Class 2: a unary gRPC call over loopback HTTP/2 to an in-process Kestrel server (no rate limit), happy path.
/// Baseline: the raw typed client on a plain channel. Goal: mesh / raw time &lt;= 1.05, mesh allocations within 10%
/// of raw.
/// </summary>
/// <remarks>Allocations count both ends of the call: client and server run in this process.</remarks>
[MemoryDiagnoser]
public class UnaryCallBenchmarks
{
    private readonly PingRequest _request = new() { Text = "ping" };
    private BenchmarkServer _server = null!;
    private GrpcChannel _channel = null!;
    private ServiceProvider _standardServices = null!;
    private MeshClientHost _meshHost = null!;
    private Bench.BenchClient _raw = null!;
    private Bench.BenchClient _standard = null!;
    private Bench.BenchClient _factory = null!;
    private Bench.BenchClient _polly = null!;
    private Bench.BenchClient _mesh = null!;

    [GlobalSetup]
    public void Setup()
    {
        _server = BenchmarkServer.Start();
        _channel = _server.CreateChannel();
        _raw = new Bench.BenchClient(_channel);
        _polly = new Bench.BenchClient(_channel.Intercept(new PollyInterceptor(PollyInterceptor.BuildPipeline())));

        var standard = new ServiceCollection();
        standard.AddGrpcClient<Bench.BenchClient>(o => o.Address = _server.Address).AddStandardResilienceHandler();
        standard.AddGrpcClient<PlainFactoryClient>(o => o.Address = _server.Address);
        _standardServices = standard.BuildServiceProvider();
        _standard = _standardServices.GetRequiredService<Bench.BenchClient>();
        _factory = _standardServices.GetRequiredService<PlainFactoryClient>();

        _meshHost = MeshClientHost.Start(MeshConfiguration.Client(_server.Address));
        _mesh = _meshHost.Client.Client;

        _raw.Ping(_request);
        _standard.Ping(_request);
        _factory.Ping(_request);
        _mesh.Ping(_request);
        _polly.PingAsync(_request).ResponseAsync.GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _standardServices.Dispose();
        _meshHost.Dispose();
        _channel.Dispose();
        _server.Dispose();
    }

    [Benchmark(Baseline = true, Description = "Raw typed client")]
    public async Task<PingReply> Raw() => await _raw.PingAsync(_request);

    [Benchmark(Description = "Mesh client: AddClient, every pattern on")]
    public async Task<PingReply> Mesh() => await _mesh.PingAsync(_request);

    [Benchmark(Description = "Raw typed client + Polly retry and breaker by hand")]
    public async Task<PingReply> PollyByHand() => await _polly.PingAsync(_request);

    [Benchmark(Description = "AddGrpcClient, no resilience (the client factory alone)")]
    public async Task<PingReply> ClientFactory() => await _factory.PingAsync(_request);

    [Benchmark(Description = "AddGrpcClient + AddStandardResilienceHandler")]
    public async Task<PingReply> StandardResilienceHandler() => await _standard.PingAsync(_request);

    /// <summary>A second typed client type, so that the client factory registers it without the standard handler.</summary>
    public sealed class PlainFactoryClient(CallInvoker callInvoker) : Bench.BenchClient(callInvoker);
}
