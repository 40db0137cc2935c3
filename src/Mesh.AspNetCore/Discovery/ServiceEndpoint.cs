namespace Mesh.AspNetCore;

/// <summary>
/// Where one service of the mesh listens, bound from an element of <c>Mesh:Discovery:Services</c>: either
/// <see cref="Host"/> and <see cref="Port"/> (one endpoint, or every address of a DNS name with <see cref="Dns"/>),
/// or <see cref="Endpoints"/> (several replicas). Calls are spread round robin over the endpoints that are up.
/// </summary>
public sealed class ServiceEndpoint
{
    /// <summary>Gets or sets the service identifier that clients are registered for, such as <c>inventory-service</c>.</summary>
    public string Id { get; set; } = string.Empty;

    /// <summary>Gets or sets the host name or IP address of the service. Not set together with <see cref="Endpoints"/>.</summary>
    public string Host { get; set; } = string.Empty;

    /// <summary>Gets or sets the port on which the service listens for gRPC over HTTP/2 cleartext. Valid range 1 to 65535.</summary>
    public int Port { get; set; }

    /// <summary>
    /// Gets or sets the replicas of the service, each with its own host and port. Not set together with
    /// <see cref="Host"/> and <see cref="Port"/>. A reload of the list applies to running clients without a restart.
    /// </summary>
    /// <value>The default value is <see langword="null"/> (the service is at <see cref="Host"/>:<see cref="Port"/>). When set, at least one endpoint.</value>
    public IList<EndpointAddress>? Endpoints { get; set; }

    /// <summary>
    /// Gets or sets whether <see cref="Host"/> is a DNS name to resolve to all of its addresses (a Kubernetes headless
    /// service), each an endpoint on <see cref="Port"/>. The name is resolved again every 30 seconds and whenever an
    /// endpoint's connection fails.
    /// </summary>
    /// <value>The default value is <see langword="false"/>: <see cref="Host"/> is one endpoint, resolved when connecting.</value>
    public bool Dns { get; set; }
}
