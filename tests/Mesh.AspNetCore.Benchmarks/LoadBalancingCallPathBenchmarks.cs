using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using Mesh.AspNetCore.Benchmarks.Infrastructure;
using Mesh.AspNetCore.Benchmarks.Protos;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// The client's whole per-call path through client-side load balancing, in-process: the same four clients as
/// <see cref="LoadBalancingBenchmarks"/> (the mesh client over one endpoint as baseline and over three; a plain
/// grpc-dotnet channel with its own <c>round_robin</c> over one and three), but the HTTP request ends in a handler that
/// answers with a ready gRPC reply instead of crossing the network. Everything above it runs as in a real call: the
/// interceptors and the resilience pipeline, grpc-dotnet's call and its balancer, which picks a connected subchannel
/// (each endpoint is a real Kestrel server the subchannel connected to), and the mesh's outcome handler, which records
/// the attempt against the picked endpoint. What the number of endpoints changes is all here, without the loopback
/// round trip whose noise hides it in <see cref="LoadBalancingBenchmarks"/>. Goal: mesh over three &lt;= 1.02x mesh
/// over one, with the same allocations.
/// </summary>
[MemoryDiagnoser]
public class LoadBalancingCallPathBenchmarks
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
        _meshOne = MeshClientHost.Start(Endpoints(_servers[..1]), configureServices: AnswerInProcess);
        _meshThree = MeshClientHost.Start(Endpoints(_servers), configureServices: AnswerInProcess);
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

        // Connect every subchannel before measuring: the first calls wait for the connections; a few rounds reach all.
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

    [Benchmark(Baseline = true, Description = "In-process: mesh client, one endpoint")]
    public async Task<PingReply> MeshOneEndpoint() => await _meshOneClient.PingAsync(_request);

    [Benchmark(Description = "In-process: mesh client, three endpoints (round robin, outlier detection)")]
    public async Task<PingReply> MeshThreeEndpoints() => await _meshThreeClient.PingAsync(_request);

    [Benchmark(Description = "In-process: plain channel, grpc-dotnet round_robin, one endpoint")]
    public async Task<PingReply> PlainRoundRobinOneEndpoint() => await _plainOneClient.PingAsync(_request);

    [Benchmark(Description = "In-process: plain channel, grpc-dotnet round_robin, three endpoints")]
    public async Task<PingReply> PlainRoundRobinThreeEndpoints() => await _plainThreeClient.PingAsync(_request);

    // The answering handler goes below the mesh's own handlers (after AddClient's), above the sockets handler.
    private static void AnswerInProcess(IServiceCollection services) =>
        services.AddHttpClient(nameof(Bench.BenchClient)).AddHttpMessageHandler(static () => new InProcessAnswer());

    private GrpcChannel RoundRobinChannel(string address) => GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        Credentials = ChannelCredentials.Insecure,
        ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new RoundRobinConfig() } },
        ServiceProvider = _resolvers,
        HttpHandler = new InProcessAnswer { InnerHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true } },
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

    /// <summary>Answers every gRPC request with the server's <c>Ping</c> reply and status OK, without sending it anywhere.</summary>
    private sealed class InProcessAnswer : DelegatingHandler
    {
        private static readonly byte[] ReplyFrame = Frame(new PingReply { Text = "ping" });
        private static readonly MediaTypeHeaderValue GrpcContentType = new("application/grpc");

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            // The request message is serialised as it would be on its way to the network.
            await request.Content!.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
            var content = new ByteArrayContent(ReplyFrame);
            content.Headers.ContentType = GrpcContentType;
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Version = HttpVersion.Version20, Content = content, RequestMessage = request };
            response.TrailingHeaders.Add("grpc-status", "0");
            return response;
        }

        private static byte[] Frame(IMessage message)
        {
            var body = message.ToByteArray();
            var frame = new byte[5 + body.Length];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)body.Length);
            body.CopyTo(frame, 5);
            return frame;
        }
    }
}
