using BenchmarkDotNet.Attributes;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using Mesh.AspNetCore.Benchmarks.Infrastructure;
using Mesh.AspNetCore.Benchmarks.Protos;
using Mesh.AspNetCore.Discovery.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// The one step of a call whose work depends on the number of endpoints: the balancer's pick of a subchannel. The
/// mesh's picker (round robin that skips ejected endpoints) over one endpoint (baseline) and over three, with one of
/// three ejected, beside grpc-dotnet's own <c>round_robin</c> picker over one and three. The pickers are the ones real
/// channels use: each channel's balancer connected real subchannels to in-process Kestrel servers.
/// </summary>
[MemoryDiagnoser]
public class RoundRobinPickerBenchmarks
{
    private readonly PickContext _context = new();
    private BenchmarkServer[] _servers = null!;
    private MeshClientHost _mesh = null!;
    private readonly List<GrpcChannel> _channels = [];
    private SubchannelPicker _meshOne = null!;
    private SubchannelPicker _meshThree = null!;
    private SubchannelPicker _meshThreeOneEjected = null!;
    private SubchannelPicker _plainOne = null!;
    private SubchannelPicker _plainThree = null!;

    [GlobalSetup]
    public void Setup()
    {
        _servers = [BenchmarkServer.Start(), BenchmarkServer.Start(), BenchmarkServer.Start()];
        // Any mesh client host: its endpoint registry gives the mesh balancer its endpoint states.
        _mesh = MeshClientHost.Start(MeshConfiguration.Client(_servers[0].Address));
        var registry = _mesh.Services.GetRequiredService<EndpointRegistry>();

        _meshOne = ReadyPicker(1, (c, l, i) => new MeshLoadBalancer(c, l, registry.Get($"picker-one-{i}")));
        _meshThree = ReadyPicker(3, (c, l, i) => new MeshLoadBalancer(c, l, registry.Get($"picker-three-{i}")));
        _meshThreeOneEjected = ReadyPicker(3, (c, l, i) => new MeshLoadBalancer(c, l, registry.Get($"picker-ejected-{i}")));
        var ejected = registry.Services.Single(s => s.ServiceId.StartsWith("picker-ejected-", StringComparison.Ordinal));
        ejected.SetCurrent([.. _servers.Select(s => new BalancerAddress(s.Address.Host, s.Address.Port))]);
        ejected.Current[1].Eject(TimeSpan.FromDays(1));
        _plainOne = ReadyPicker(1, static (c, l, _) => new RoundRobinBalancerFactory().Create(new LoadBalancerOptions(c, l, new Dictionary<string, object>())));
        _plainThree = ReadyPicker(3, static (c, l, _) => new RoundRobinBalancerFactory().Create(new LoadBalancerOptions(c, l, new Dictionary<string, object>())));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }

        _mesh.Dispose();
        foreach (var server in _servers)
        {
            server.Dispose();
        }
    }

    [Benchmark(Baseline = true, Description = "Mesh picker, one endpoint")]
    public PickResult MeshOne() => _meshOne.Pick(_context);

    [Benchmark(Description = "Mesh picker, three endpoints")]
    public PickResult MeshThree() => _meshThree.Pick(_context);

    [Benchmark(Description = "Mesh picker, three endpoints, one ejected")]
    public PickResult MeshThreeOneEjected() => _meshThreeOneEjected.Pick(_context);

    [Benchmark(Description = "grpc-dotnet round_robin picker, one endpoint")]
    public PickResult PlainOne() => _plainOne.Pick(_context);

    [Benchmark(Description = "grpc-dotnet round_robin picker, three endpoints")]
    public PickResult PlainThree() => _plainThree.Pick(_context);

    /// <summary>The picker a channel's balancer publishes once all of <paramref name="endpoints"/> servers are connected.</summary>
    private SubchannelPicker ReadyPicker(int endpoints, Func<IChannelControlHelper, ILoggerFactory, int, LoadBalancer> create)
    {
        var factory = new CapturingBalancerFactory(create, _channels.Count);
        var services = new ServiceCollection();
        services.AddSingleton<ResolverFactory>(new StaticResolverFactory(_ => _servers.Take(endpoints).Select(s => new BalancerAddress(s.Address.Host, s.Address.Port))));
        services.AddSingleton<LoadBalancerFactory>(factory);
        var channel = GrpcChannel.ForAddress("static:///bench", new GrpcChannelOptions
        {
            Credentials = ChannelCredentials.Insecure,
            ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new LoadBalancingConfig(CapturingBalancerFactory.PolicyName) } },
            ServiceProvider = services.BuildServiceProvider(),
        });
        _channels.Add(channel);
        var client = new Bench.BenchClient(channel);
        for (var i = 0; i < 10 * endpoints && factory.ReadySubchannels < endpoints; i++)
        {
            client.Ping(new PingRequest { Text = "connect" });
        }

        return factory.ReadySubchannels == endpoints
            ? factory.Picker!
            : throw new InvalidOperationException($"Only {factory.ReadySubchannels} of {endpoints} subchannels connected.");
    }

    /// <summary>Creates the balancer under test and keeps the picker it publishes with the most ready subchannels.</summary>
    private sealed class CapturingBalancerFactory(Func<IChannelControlHelper, ILoggerFactory, int, LoadBalancer> create, int index)
        : LoadBalancerFactory, IChannelControlHelper
    {
        public const string PolicyName = "capturing";
        private IChannelControlHelper _inner = null!;
        private int _ready;

        public override string Name => PolicyName;

        public SubchannelPicker? Picker { get; private set; }

        public int ReadySubchannels { get; private set; }

        public override LoadBalancer Create(LoadBalancerOptions options)
        {
            _inner = options.Controller;
            return create(this, options.LoggerFactory, index);
        }

        public Subchannel CreateSubchannel(SubchannelOptions options)
        {
            var subchannel = _inner.CreateSubchannel(options);
            var wasReady = false;
            subchannel.OnStateChanged(s =>
            {
                var ready = s.State == ConnectivityState.Ready;
                if (ready != wasReady)
                {
                    Interlocked.Add(ref _ready, ready ? 1 : -1);
                    wasReady = ready;
                }
            });
            return subchannel;
        }

        public void UpdateState(BalancerState state)
        {
            if (state.ConnectivityState == ConnectivityState.Ready)
            {
                var ready = Volatile.Read(ref _ready);
                if (ready >= ReadySubchannels)
                {
                    ReadySubchannels = ready;
                    Picker = state.Picker;
                }
            }

            _inner.UpdateState(state);
        }

        public void RefreshResolver() => _inner.RefreshResolver();
    }
}
