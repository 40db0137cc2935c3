using System.Security.Claims;

namespace Mesh.AspNetCore.Identity.Internal;

/// <summary>
/// Set on each connection accepted by the mesh TLS endpoint, after its client certificate passed the mesh checks: the
/// identity that certificate proves. Only that endpoint sets it, so a certificate accepted by another endpoint of the
/// application never becomes a mesh identity.
/// </summary>
internal sealed class MeshPeerFeature
{
    private readonly Claim[] _claims;

    public MeshPeerFeature(CertificateIdentity identity, string thumbprint)
    {
        Identity = identity;
        var claims = new List<Claim>
        {
            new(ClaimTypes.Name, identity.Name, ClaimValueTypes.String, IdentityConstants.AuthenticationScheme),
            new(ClaimTypes.NameIdentifier, identity.Name, ClaimValueTypes.String, IdentityConstants.AuthenticationScheme),
            new(ClaimTypes.Thumbprint, thumbprint, ClaimValueTypes.Base64Binary, IdentityConstants.AuthenticationScheme),
        };
        if (identity.SpiffeId is { } spiffeId)
        {
            claims.Add(new Claim(IdentityConstants.SpiffeIdClaimType, spiffeId, ClaimValueTypes.String, IdentityConstants.AuthenticationScheme));
        }

        _claims = [.. claims];
    }

    public CertificateIdentity Identity { get; }

    /// <summary>A new principal for one request: applications may add to it without touching other requests.</summary>
    public ClaimsPrincipal CreatePrincipal() =>
        new(new ClaimsIdentity(_claims, IdentityConstants.AuthenticationScheme, ClaimTypes.Name, ClaimTypes.Role));
}
