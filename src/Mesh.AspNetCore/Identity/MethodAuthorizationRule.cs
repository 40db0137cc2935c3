namespace Mesh.AspNetCore;

/// <summary>
/// A rule of <c>Mesh:Authorization:Methods</c>: the callers allowed to call one method or every method of one service.
/// </summary>
public sealed class MethodAuthorizationRule
{
    /// <summary>
    /// Gets or sets the method, as <c>package.Service/Method</c>, or <c>package.Service/*</c> for every method of the service.
    /// </summary>
    /// <value>Required.</value>
    public string Method { get; set; } = string.Empty;

    /// <summary>Gets or sets the service ids allowed to call <see cref="Method"/> (compared ignoring case). An empty list allows nobody.</summary>
    /// <value>The default value is an empty list.</value>
    public IList<string> AllowedCallers { get; set; } = [];
}
