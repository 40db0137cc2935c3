namespace Mesh.AspNetCore.Discovery.Internal;

internal static class DiscoveryConstants
{
    /// <summary>The address scheme of mesh channels, <c>mesh:///&lt;service id&gt;</c>, served by <see cref="MeshResolverFactory"/>.</summary>
    public const string Scheme = "mesh";

    /// <summary>The load-balancing policy of mesh channels, served by <see cref="MeshLoadBalancerFactory"/>.</summary>
    public const string PolicyName = "mesh_round_robin";

    /// <summary>The key of the policy's configuration that names the target service.</summary>
    public const string ServiceIdKey = "serviceId";

    /// <summary>How often a <c>"Dns": true</c> entry is resolved again (it is also resolved again when a connection fails).</summary>
    public static readonly TimeSpan DnsRefreshInterval = TimeSpan.FromSeconds(30);
}
