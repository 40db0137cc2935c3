using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Identity.Internal;

/// <summary>
/// Serves the <c>Mesh:Port</c> endpoint over mutual TLS: each handshake takes the certificate in force (so a rotation
/// applies to the next connection), requires a client certificate, and accepts it only when it chains to the mesh CA and
/// names an identity. The identity is then set on the connection as a <see cref="MeshPeerFeature"/>.
/// </summary>
internal sealed partial class MeshServerTls(TlsMaterialSource source, TimeProvider time, ILogger<MeshServerTls> logger)
{
    private static readonly List<SslApplicationProtocol> Http2Only = [SslApplicationProtocol.Http2];
    private volatile bool _applied;

    /// <summary>
    /// Whether an endpoint serves mutual TLS, so that a request may carry a <see cref="MeshPeerFeature"/>. Set while
    /// Kestrel is configured, before any request; without it the per-request code skips looking for the feature.
    /// </summary>
    public bool IsApplied => _applied;

    public void Apply(ListenOptions listen)
    {
        _applied = true;
        _ = source.Current;
        listen.UseHttps(new TlsHandshakeCallbackOptions { OnConnection = _ => ValueTask.FromResult(CreateOptions()) });
        listen.Use(static next => connection =>
        {
            if (connection.Features.Get<ITlsConnectionFeature>()?.ClientCertificate is { } certificate
                && CertificateIdentity.Of(certificate) is { } identity)
            {
                connection.Features.Set(new MeshPeerFeature(identity, certificate.Thumbprint));
            }

            return next(connection);
        });
    }

    private SslServerAuthenticationOptions CreateOptions() => new()
    {
        ServerCertificateContext = source.Current.ServerContext,
        ClientCertificateRequired = true,
        RemoteCertificateValidationCallback = ValidateClient,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        ApplicationProtocols = Http2Only,
    };

    private bool ValidateClient(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            LogClientRefused(logger, "no client certificate");
            return false;
        }

        var peer = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if (source.Current.Verify(peer, chain, IdentityConstants.ClientAuthenticationOid, time.GetUtcNow(), out var reason) is null)
        {
            LogClientRefused(logger, $"'{peer.Subject}': {reason}");
            return false;
        }

        return true;
    }

    // Debug: a client without a mesh certificate is refused at every connection attempt.
    [LoggerMessage(EventId = 8021, EventName = "MeshClientCertificateRefused", Level = LogLevel.Debug,
        Message = "Refused a TLS connection to the mesh port: {Reason}.")]
    private static partial void LogClientRefused(ILogger logger, string reason);
}
