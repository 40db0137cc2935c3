using Grpc.Net.Client.Balancer;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>
/// gRPC's subchannel balancer (one subchannel per endpoint, kept across resolver updates) with a round-robin picker
/// that skips ejected endpoints. Every subchannel it creates carries its <see cref="EndpointState"/>, so the picker
/// and the outcome handler find an endpoint's state without a lookup.
/// </summary>
/// <remarks>
/// grpc-dotnet calls a balancer under its channel's lock, but the application's shutdown disposes it from another
/// thread (<see cref="ChannelPartTracker"/>), when the base class may be changing its list of subchannels (a resolver
/// update after a failed connection). So disposing does not touch that list: it disposes the subchannels this balancer
/// created, from a list of its own, and the balancer takes no resolver update and
/// makes no connection after it.
/// </remarks>
internal sealed class MeshLoadBalancer : SubchannelsLoadBalancer
{
    // Shared by the successive pickers, so round robin continues where it was when the ready set changes.
    private readonly MeshRoundRobinPicker.Counter _counter = new();
    private readonly CreatedSubchannels _created;

    public MeshLoadBalancer(IChannelControlHelper controller, ILoggerFactory loggerFactory, ServiceEndpoints endpoints)
        : this(controller, loggerFactory, endpoints, new CreatedSubchannels())
    {
    }

    private MeshLoadBalancer(IChannelControlHelper controller, ILoggerFactory loggerFactory, ServiceEndpoints endpoints, CreatedSubchannels created)
        : base(new EndpointTrackingController(controller, endpoints, created), loggerFactory) => _created = created;

    public override void UpdateChannelState(ChannelState state)
    {
        lock (_created.Gate)
        {
            if (_created.IsClosed)
            {
                return;
            }

            base.UpdateChannelState(state);
        }
    }

    public override void RequestConnection()
    {
        lock (_created.Gate)
        {
            if (!_created.IsClosed)
            {
                base.RequestConnection();
            }
        }
    }

    protected override SubchannelPicker CreatePicker(IReadOnlyList<Subchannel> readySubchannels) =>
        new MeshRoundRobinPicker(readySubchannels, _counter);

    protected override void Dispose(bool disposing)
    {
        foreach (var subchannel in _created.Close())
        {
            subchannel.Dispose();
        }
    }

    /// <summary>The subchannels a balancer created and has not seen shut down.</summary>
    private sealed class CreatedSubchannels
    {
        private readonly List<Subchannel> _subchannels = [];

        public Lock Gate { get; } = new();

        public bool IsClosed { get; private set; }

        /// <summary>Keeps <paramref name="subchannel"/> until it shuts down (the balancer dropped its address).</summary>
        public void Add(Subchannel subchannel)
        {
            lock (Gate)
            {
                _subchannels.Add(subchannel);
            }

            subchannel.OnStateChanged(state =>
            {
                if (state.State == Grpc.Core.ConnectivityState.Shutdown)
                {
                    lock (Gate)
                    {
                        _subchannels.Remove(subchannel);
                    }
                }
            });
        }

        /// <summary>Takes no more subchannels and returns those left to dispose (none after the first call).</summary>
        public Subchannel[] Close()
        {
            lock (Gate)
            {
                if (IsClosed)
                {
                    return [];
                }

                IsClosed = true;
                Subchannel[] left = [.. _subchannels];
                _subchannels.Clear();
                return left;
            }
        }
    }

    private sealed class EndpointTrackingController(IChannelControlHelper inner, ServiceEndpoints endpoints, CreatedSubchannels created) : IChannelControlHelper
    {
        public Subchannel CreateSubchannel(SubchannelOptions options)
        {
            var subchannel = inner.CreateSubchannel(options);
            created.Add(subchannel);
            if (options.Addresses.Count > 0)
            {
                var endpoint = endpoints.GetOrAdd(options.Addresses[0].EndPoint);
                endpoint.Track(subchannel);
                subchannel.Attributes.Set(EndpointState.Key, endpoint);
            }

            return subchannel;
        }

        public void UpdateState(BalancerState state) => inner.UpdateState(state);

        public void RefreshResolver() => inner.RefreshResolver();
    }
}
