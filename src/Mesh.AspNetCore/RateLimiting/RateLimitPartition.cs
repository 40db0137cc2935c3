namespace Mesh.AspNetCore;

/// <summary>How inbound requests are grouped into rate-limit quotas.</summary>
public enum RateLimitPartition
{
    /// <summary>
    /// One quota per caller: the authenticated identity where the request has one, else the
    /// <c>x-mesh-service-id</c> header, else the remote IP address.
    /// </summary>
    Caller = 0,

    /// <summary>One quota shared by every caller of the service.</summary>
    Global = 1,
}
