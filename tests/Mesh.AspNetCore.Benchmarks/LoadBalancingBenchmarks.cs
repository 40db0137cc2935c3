using System.Globalization;
using BenchmarkDotNet.Attributes;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using Mesh.AspNetCore.Benchmarks.Infrastructure;
using Mesh.AspNetCore.Benchmarks.Protos;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// A unary call over loopback HTTP/2 through client-side load balancing: the mesh client (<c>AddClient</c>, every pattern
/// on) over one endpoint (baseline) and over three (<c>Endpoints</c>), beside a plain grpc-dotnet channel with its own
/// <c>round_robin</c> over one and three (a static resolver). Goal: mesh over three &lt;= 1.02x mesh over one, with the
/// same allocations (the mesh's picker allocates nothing per call).
/// </summary>
/// <remarks>Allocations count both ends of the call: client and servers run in this process.</remarks>
[MemoryDiagnoser]
public class LoadBalancingBenchmarks
{
    private readonly PingRequest _request = new() { Text = "ping" };
    private BenchmarkServer[] _servers = null!;
    private MeshClientHost _meshOne = null!;
    private MeshClientHost _meshThree = null!;
    private ServiceProvider _resolvers = null!;
    private GrpcChannel _plainOne = null!;
    private GrpcChannel _plainThree = null!;
    private Bench.BenchClient _meshOneClient = null!;
    private Bench.BenchClient _meshThreeClient = null!;
    private Bench.BenchClient _plainOneClient = null!;
    private Bench.BenchClient _plainThreeClient = null!;

    [GlobalSetup]
    public void Setup()
    {
        _servers = [BenchmarkServer.Start(), BenchmarkServer.Start(), BenchmarkServer.Start()];
        _meshOne = MeshClientHost.Start(Endpoints(_servers[..1]), configureServices: ConfigureMeshClient);
        _meshThree = MeshClientHost.Start(Endpoints(_servers), configureServices: ConfigureMeshClient);
        _meshOneClient = _meshOne.Client.Client;
        _meshThreeClient = _meshThree.Client.Client;

        var resolvers = new ServiceCollection();
        resolvers.AddSingleton<ResolverFactory>(new StaticResolverFactory(address => address.Host switch
        {
            "one" => [new BalancerAddress(_servers[0].Address.Host, _servers[0].Address.Port)],
            _ => _servers.Select(s => new BalancerAddress(s.Address.Host, s.Address.Port)),
        }));
        _resolvers = resolvers.BuildServiceProvider();
        _plainOne = RoundRobinChannel("static://one");
        _plainThree = RoundRobinChannel("static://three");
        _plainOneClient = new Bench.BenchClient(_plainOne);
        _plainThreeClient = new Bench.BenchClient(_plainThree);

        // Connect every endpoint before measuring: the first calls wait for the connections; a few rounds reach all.
        for (var i = 0; i < 30; i++)
        {
            _meshOneClient.Ping(_request);
            _meshThreeClient.Ping(_request);
            _plainOneClient.Ping(_request);
            _plainThreeClient.Ping(_request);
        }

        var endpoints = _meshThree.Services.GetRequiredService<ISecureMesh>().GetStats().Services[MeshConfiguration.BenchServiceId].Endpoints!;
        if (endpoints.Count != 3 || endpoints.Any(e => e.State != "ready" || e.Calls == 0))
        {
            throw new InvalidOperationException("The mesh client over three endpoints does not use all three: "
                + string.Join(", ", endpoints.Select(e => $"{e.Address} {e.State} {e.Calls}")));
        }
    }

    /// <summary>Adds to the mesh clients' services; nothing here (every call crosses loopback).</summary>
    protected virtual void ConfigureMeshClient(IServiceCollection services)
    {
    }

    /// <summary>The HTTP handler of the plain channels; grpc-dotnet's default here.</summary>
    protected virtual HttpMessageHandler? CreatePlainHandler() => null;

    [GlobalCleanup]
    public void Cleanup()
    {
        _plainOne.Dispose();
        _plainThree.Dispose();
        _resolvers.Dispose();
        _meshOne.Dispose();
        _meshThree.Dispose();
        foreach (var server in _servers)
        {
            server.Dispose();
        }
    }

    [Benchmark(Baseline = true, Description = "Mesh client, one endpoint")]
    public async Task<PingReply> MeshOneEndpoint() => await _meshOneClient.PingAsync(_request);

    [Benchmark(Description = "Mesh client, three endpoints (round robin, outlier detection)")]
    public async Task<PingReply> MeshThreeEndpoints() => await _meshThreeClient.PingAsync(_request);

    [Benchmark(Description = "Plain channel, grpc-dotnet round_robin, one endpoint")]
    public async Task<PingReply> PlainRoundRobinOneEndpoint() => await _plainOneClient.PingAsync(_request);

    [Benchmark(Description = "Plain channel, grpc-dotnet round_robin, three endpoints")]
    public async Task<PingReply> PlainRoundRobinThreeEndpoints() => await _plainThreeClient.PingAsync(_request);

    private GrpcChannel RoundRobinChannel(string address) => GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        Credentials = ChannelCredentials.Insecure,
        ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new RoundRobinConfig() } },
        ServiceProvider = _resolvers,
        HttpHandler = CreatePlainHandler(),
    });

    private static Dictionary<string, string?> Endpoints(BenchmarkServer[] servers)
    {
        var configuration = new Dictionary<string, string?>
        {
            ["Mesh:ServiceId"] = "bench-client",
            ["Mesh:Discovery:Services:0:Id"] = MeshConfiguration.BenchServiceId,
        };
        for (var i = 0; i < servers.Length; i++)
        {
            configuration[$"Mesh:Discovery:Services:0:Endpoints:{i}:Host"] = servers[i].Address.Host;
            configuration[$"Mesh:Discovery:Services:0:Endpoints:{i}:Port"] = servers[i].Address.Port.ToString(CultureInfo.InvariantCulture);
        }

        return configuration;
    }
}
