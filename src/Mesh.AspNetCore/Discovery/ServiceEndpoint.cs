namespace Mesh.AspNetCore;

/// <summary>
/// Where one service of the mesh listens, bound from an element of <c>Mesh:Discovery:Services</c>.
/// </summary>
public sealed class ServiceEndpoint
{
    /// <summary>Gets or sets the service identifier that clients are registered for, such as <c>inventory-service</c>.</summary>
    public string Id { get; set; } = string.Empty;

    /// <summary>Gets or sets the host name or IP address of the service.</summary>
    public string Host { get; set; } = string.Empty;

    /// <summary>Gets or sets the port on which the service listens for gRPC over HTTP/2 cleartext. Valid range 1 to 65535.</summary>
    public int Port { get; set; }
}
