namespace Mesh.AspNetCore;

/// <summary>
/// Static service discovery, bound from <c>Mesh:Discovery</c>.
/// </summary>
public sealed class DiscoveryOptions
{
    /// <summary>Gets or sets the services this service can call, each under a unique <see cref="ServiceEndpoint.Id"/>.</summary>
    public IList<ServiceEndpoint> Services { get; set; } = [];
}
