using Grpc.Net.Client.Balancer;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>
/// gRPC's subchannel balancer (one subchannel per endpoint, kept across resolver updates) with a round-robin picker
/// that skips ejected endpoints. Every subchannel it creates carries its <see cref="EndpointState"/>, so the picker
/// and the outcome handler find an endpoint's state without a lookup.
/// </summary>
internal sealed class MeshLoadBalancer(IChannelControlHelper controller, ILoggerFactory loggerFactory, ServiceEndpoints endpoints)
    : SubchannelsLoadBalancer(new EndpointTrackingController(controller, endpoints), loggerFactory)
{
    // Shared by the successive pickers, so round robin continues where it was when the ready set changes.
    private readonly MeshRoundRobinPicker.Counter _counter = new();

    protected override SubchannelPicker CreatePicker(IReadOnlyList<Subchannel> readySubchannels) =>
        new MeshRoundRobinPicker(readySubchannels, _counter);

    private sealed class EndpointTrackingController(IChannelControlHelper inner, ServiceEndpoints endpoints) : IChannelControlHelper
    {
        public Subchannel CreateSubchannel(SubchannelOptions options)
        {
            var subchannel = inner.CreateSubchannel(options);
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
