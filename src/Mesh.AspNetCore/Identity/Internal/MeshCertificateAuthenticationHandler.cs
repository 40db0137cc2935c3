using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Identity.Internal;

/// <summary>
/// The <c>MeshCertificate</c> authentication scheme: a request on the mesh TLS endpoint is authenticated as the identity
/// of its client certificate. It lets <c>[Authorize]</c>, policies and <c>RequireAuthorization</c> work as with any
/// ASP.NET Core scheme, including their challenge (401) and forbid (403) answers, which gRPC clients see as
/// <c>UNAUTHENTICATED</c> and <c>PERMISSION_DENIED</c>.
/// </summary>
internal sealed class MeshCertificateAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (Context.Features.Get<MeshPeerFeature>() is not { } peer)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(peer.CreatePrincipal(), Scheme.Name)));
    }
}
