namespace Mesh.AspNetCore;

/// <summary>
/// Which callers may call this service's gRPC methods, bound from <c>Mesh:Authorization</c>. A caller is the identity
/// of its mesh client certificate, so these rules need <c>Mesh:Tls</c>.
/// </summary>
/// <remarks>
/// A gRPC call that the rules do not allow ends with <c>PERMISSION_DENIED</c> before its handler and before it counts
/// against any rate-limit quota. The standard health service (<c>grpc.health.v1.Health</c>) is always open.
/// </remarks>
public sealed class CallerAuthorizationOptions
{
    /// <summary>
    /// Gets or sets the service ids allowed to call every gRPC method of this service (compared ignoring case).
    /// </summary>
    /// <value>The default value is an empty list: every caller with a mesh certificate is allowed.</value>
    public IList<string> AllowedCallers { get; set; } = [];

    /// <summary>
    /// Gets or sets per-method rules. A call to a method that a rule names is allowed for that rule's
    /// <see cref="MethodAuthorizationRule.AllowedCallers"/> instead of <see cref="AllowedCallers"/>; a rule for the exact
    /// method wins over one for its whole service.
    /// </summary>
    /// <value>The default value is an empty list.</value>
    public IList<MethodAuthorizationRule> Methods { get; set; } = [];

    /// <summary>Gets whether any rule restricts callers.</summary>
    internal bool IsRestricted => AllowedCallers.Count > 0 || Methods.Count > 0;
}
