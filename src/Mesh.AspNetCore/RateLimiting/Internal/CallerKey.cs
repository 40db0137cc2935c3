using System.Net;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>What kind of identity a <see cref="CallerKey"/> holds.</summary>
internal enum CallerKind : byte
{
    /// <summary>One partition for every caller (<c>PartitionBy: Global</c>).</summary>
    Global = 0,

    /// <summary>The authenticated identity's name.</summary>
    User = 1,

    /// <summary>The <c>x-mesh-service-id</c> request header.</summary>
    Service = 2,

    /// <summary>The remote IP address (or none, for transports without one).</summary>
    Address = 3,
}

/// <summary>
/// The partition a request is counted in. A value type over strings and addresses that the request already holds,
/// so that resolving it allocates nothing; the kinds never collide (user <c>a</c> and service <c>a</c> differ).
/// </summary>
internal readonly struct CallerKey : IEquatable<CallerKey>
{
    private readonly string? _name;
    private readonly IPAddress? _address;

    private CallerKey(CallerKind kind, string? name, IPAddress? address)
    {
        Kind = kind;
        _name = name;
        _address = address;
    }

    public static CallerKey Global => default;

    public CallerKind Kind { get; }

    public static CallerKey ForUser(string name) => new(CallerKind.User, name, null);

    public static CallerKey ForService(string serviceId) => new(CallerKind.Service, serviceId, null);

    public static CallerKey ForAddress(IPAddress? address) => new(CallerKind.Address, null, address);

    // Service ids compare ordinal case-insensitively everywhere in the mesh, as configuration keys do.
    private StringComparison NameComparison => Kind == CallerKind.Service ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    public bool Equals(CallerKey other) =>
        Kind == other.Kind && string.Equals(_name, other._name, NameComparison) && Equals(_address, other._address);

    public override bool Equals(object? obj) => obj is CallerKey other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Kind, _name is null ? 0 : string.GetHashCode(_name, NameComparison), _address);

    /// <summary>
    /// The partition as a shared store names it: <see cref="ToString"/>, with a service id in lower case so that every
    /// spelling of one id counts in one partition.
    /// </summary>
    public string ToStoreName() => Kind == CallerKind.Service ? "service:" + _name!.ToLowerInvariant() : ToString();

    /// <summary>The caller as logs show it: <c>user:alice</c>, <c>service:inventory-service</c>, <c>ip:10.0.0.7</c>, <c>global</c>.</summary>
    public override string ToString() => Kind switch
    {
        CallerKind.User => "user:" + _name,
        CallerKind.Service => "service:" + _name,
        CallerKind.Address => "ip:" + (_address?.ToString() ?? "unknown"),
        _ => "global",
    };

    public static bool operator ==(CallerKey left, CallerKey right) => left.Equals(right);

    public static bool operator !=(CallerKey left, CallerKey right) => !left.Equals(right);
}
