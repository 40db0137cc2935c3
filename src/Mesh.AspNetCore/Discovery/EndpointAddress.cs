namespace Mesh.AspNetCore;

/// <summary>
/// One replica of a discovered service, bound from an element of <c>Mesh:Discovery:Services:{n}:Endpoints</c>.
/// </summary>
public sealed class EndpointAddress
{
    /// <summary>Gets or sets the host name or IP address of the replica.</summary>
    /// <value>Required.</value>
    public string Host { get; set; } = string.Empty;

    /// <summary>Gets or sets the port on which the replica listens for gRPC over HTTP/2 cleartext.</summary>
    /// <value>Required. Valid range 1 to 65535.</value>
    public int Port { get; set; }
}
