using Mesh.AspNetCore.Identity.Internal;
using Mesh.AspNetCore.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Features.Authentication;
using Microsoft.Extensions.Primitives;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>
/// Resolves who is calling: the identity of the caller's mesh certificate, else the authenticated identity's name, else
/// a well-formed <c>x-mesh-service-id</c> header,
/// else the remote IP address. A header that is empty, repeated, longer than 256 characters or that contains anything
/// but printable ASCII without spaces (the rule for <c>Mesh:ServiceId</c>) is treated as absent.
/// </summary>
internal static class CallerIdentity
{
    /// <param name="context">The request.</param>
    /// <param name="partitionBy">The configured partitioning.</param>
    /// <param name="meshTls">Whether the server serves mutual TLS, so that the request may carry a mesh certificate's identity.</param>
    public static CallerKey Resolve(HttpContext context, RateLimitPartition partitionBy, bool meshTls = true)
    {
        if (partitionBy == RateLimitPartition.Global)
        {
            return CallerKey.Global;
        }

        // A mesh certificate's identity (Mesh:Tls) is proven by the TLS handshake: it wins over anything the request says.
        if (meshTls && RequestFeatures.Get<MeshPeerFeature>(context.Features) is { } peer)
        {
            return CallerKey.ForUser(peer.Identity.Name);
        }

        // Read the feature rather than HttpContext.User, which allocates an anonymous principal when none was set.
        var user = RequestFeatures.Get<IHttpAuthenticationFeature>(context.Features)?.User;
        if (user?.Identity is { IsAuthenticated: true, Name: { Length: > 0 } name })
        {
            return CallerKey.ForUser(name);
        }

        if (context.Request.Headers.TryGetValue(RateLimitConstants.ServiceIdHeader, out var serviceId)
            && IsUsableServiceId(serviceId))
        {
            return CallerKey.ForService(serviceId.ToString());
        }

        // The connection feature through the indexer, as above: HttpContext.Connection fetches it through the
        // collection's generic Get on the first use in every request.
        return CallerKey.ForAddress(RequestFeatures.Get<IHttpConnectionFeature>(context.Features)?.RemoteIpAddress);
    }

    internal static bool IsUsableServiceId(StringValues values)
    {
        if (values.Count != 1)
        {
            return false;
        }

        var value = values[0];
        if (string.IsNullOrWhiteSpace(value) || value.Length > RateLimitConstants.MaxServiceIdLength)
        {
            return false;
        }

        foreach (var c in value)
        {
            // No mesh client sends a space, a control or a non-ASCII character. A space also marks a repeated header
            // that the client folded into one "a, b" value, as HTTP clients do.
            if (c is <= ' ' or >= (char)0x7F)
            {
                return false;
            }
        }

        return true;
    }
}
