namespace Mesh.AspNetCore;

/// <summary>
/// Options of the mesh, bound from the <c>Mesh</c> configuration section.
/// </summary>
/// <remarks>
/// Key names and units follow the original SecureMesh documentation: durations are integers in milliseconds,
/// and the camelCase keys of its examples bind unchanged because configuration keys are case-insensitive.
/// Every value is validated when the host starts; an invalid value stops it with a message naming the full key.
/// </remarks>
public sealed class SecureMeshOptions
{
    /// <summary>The configuration section bound by <c>AddSecureMesh()</c>.</summary>
    public const string SectionName = "Mesh";

    /// <summary>
    /// Gets or sets the identifier of this service. Outgoing calls carry it in the <c>x-mesh-service-id</c> header,
    /// and it names this service in stats.
    /// </summary>
    /// <value>Required. Printable ASCII, at most 256 characters.</value>
    public string ServiceId { get; set; } = string.Empty;

    /// <summary>
    /// Gets or sets the port on which the service listens for gRPC over HTTP/2: cleartext, or mutual TLS when
    /// <see cref="Tls"/> is set.
    /// When set, no Kestrel code is needed in <c>Program.cs</c>; the endpoint replaces Kestrel's configured URLs.
    /// </summary>
    /// <value>The default value is <see langword="null"/> (Kestrel's own configuration applies). Valid range 1 to 65535.</value>
    public int? Port { get; set; }

    /// <summary>
    /// Gets or sets the address the <see cref="Port"/> endpoint binds to: <c>localhost</c> (loopback),
    /// <c>*</c> (every interface, IPv4 and IPv6), or an IP address (<c>0.0.0.0</c>: every IPv4 interface).
    /// </summary>
    /// <value>The default value is <c>localhost</c>, as Kestrel's own default endpoint.</value>
    public string ListenAddress { get; set; } = "localhost";

    /// <summary>Gets or sets the resilience patterns: rate limit, circuit breaker and retry.</summary>
    public ResilienceOptions Resilience { get; set; } = new();

    /// <summary>Gets or sets the static service discovery used by clients registered with <c>AddClient</c>.</summary>
    public DiscoveryOptions Discovery { get; set; } = new();

    /// <summary>Gets or sets mutual TLS between mesh services (<c>Mesh:Tls</c>). Off until its three paths are set.</summary>
    public TlsOptions Tls { get; set; } = new();

    /// <summary>Gets or sets which callers may call this service (<c>Mesh:Authorization</c>). Every caller until configured.</summary>
    public CallerAuthorizationOptions Authorization { get; set; } = new();
    /// <summary>Gets or sets the Redis-compatible store that holds the rate limit shared by every replica (<c>Mesh:Redis</c>).</summary>
    public RedisOptions Redis { get; set; } = new();
}
