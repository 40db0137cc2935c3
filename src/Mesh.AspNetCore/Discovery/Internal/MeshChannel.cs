using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Configuration;
using Mesh.AspNetCore.Identity.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>
/// The one place where the channel of every mesh client is configured: its address (<c>mesh:///&lt;service id&gt;</c>,
/// resolved from <c>Mesh:Discovery</c> by <see cref="MeshResolverFactory"/>), its credentials, its load balancing
/// (<see cref="MeshLoadBalancerFactory"/>), its reconnect backoff and its logging (<see cref="ChannelLoggerFactory"/>).
/// </summary>
internal static class MeshChannel
{
    public static Uri AddressOf(string serviceId) => MeshResolverFactory.AddressOf(serviceId);

    public static void Configure(IServiceProvider provider, string serviceId, GrpcChannelOptions channel)
    {
        var options = provider.GetRequiredService<IOptionsMonitor<SecureMeshOptions>>().CurrentValue;
        channel.Credentials = ChannelCredentials.Insecure;
        channel.ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { MeshLoadBalancerFactory.ConfigFor(serviceId) } };
        ChannelReconnectBackoff.Apply(channel, options.Resilience);
        MeshClientTls.Configure(channel, provider);
        if (channel.LoggerFactory is { } loggerFactory)
        {
            channel.LoggerFactory = new ChannelLoggerFactory(loggerFactory);
        }
    }
}
