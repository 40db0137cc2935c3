using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;

namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>
/// Creates the <see cref="MeshLoadBalancer"/> of a mesh channel, whose service config names the policy
/// <c>mesh_round_robin</c> with the target service's id. Registered in DI, where gRPC channels find their balancer factories.
/// </summary>
internal sealed class MeshLoadBalancerFactory(EndpointRegistry endpoints) : LoadBalancerFactory, IDisposable
{
    private readonly ChannelPartTracker _created = new();

    public override string Name => DiscoveryConstants.PolicyName;

    /// <summary>The load-balancing configuration of the channel of <paramref name="serviceId"/>.</summary>
    public static LoadBalancingConfig ConfigFor(string serviceId)
    {
        var config = new LoadBalancingConfig(DiscoveryConstants.PolicyName);
        ((IDictionary<string, object>)config.Inner[DiscoveryConstants.PolicyName])[DiscoveryConstants.ServiceIdKey] = serviceId;
        return config;
    }

    public override LoadBalancer Create(LoadBalancerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!options.Configuration.TryGetValue(DiscoveryConstants.ServiceIdKey, out var value) || value is not string serviceId)
        {
            throw new InvalidOperationException($"The '{DiscoveryConstants.PolicyName}' load-balancing policy needs '{DiscoveryConstants.ServiceIdKey}' in its configuration.");
        }

        return _created.Track(new MeshLoadBalancer(options.Controller, options.LoggerFactory, endpoints.Get(serviceId)));
    }

    /// <summary>Disposes the balancers this factory created, and so their subchannels: the application is stopping.</summary>
    public void Dispose() => _created.Dispose();
}
