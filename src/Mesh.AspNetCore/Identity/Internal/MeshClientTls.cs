using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Identity.Internal;

/// <summary>
/// Mutual TLS for the channels of mesh clients, when <c>Mesh:Tls</c> is set: each connection presents the certificate
/// in force and accepts only a server certificate that chains to the mesh CA and whose identity is the target service
/// id. The host name is not checked: the identity is. There is no cleartext fallback.
/// </summary>
internal static partial class MeshClientTls
{
    /// <summary>Whether mesh clients of this application call over TLS.</summary>
    public static bool IsEnabled(IServiceProvider provider) => provider.GetRequiredService<TlsMaterialSource>().IsEnabled;

    /// <summary>Sets the TLS options of the channel's handler for calls to <paramref name="serviceId"/>.</summary>
    public static void Configure(SocketsHttpHandler handler, IServiceProvider provider, string serviceId)
    {
        var source = provider.GetRequiredService<TlsMaterialSource>();
        if (!source.IsEnabled)
        {
            return;
        }

        var time = provider.GetRequiredService<TimeProvider>();
        var logger = provider.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(MeshClientTls).FullName!);
        handler.SslOptions = new SslClientAuthenticationOptions
        {
            LocalCertificateSelectionCallback = (_, _, _, _, _) => source.Current.Certificate,
            RemoteCertificateValidationCallback = (_, certificate, chain, _) => ValidateServer(source, time, logger, serviceId, certificate, chain),
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        };
    }

    /// <summary>Secure credentials for the channel: its addresses are <c>https</c>.</summary>
    public static void Configure(GrpcChannelOptions channel, IServiceProvider provider)
    {
        if (IsEnabled(provider))
        {
            channel.Credentials = ChannelCredentials.SecureSsl;
        }
    }

    private static bool ValidateServer(TlsMaterialSource source, TimeProvider time, ILogger logger, string serviceId,
        X509Certificate? certificate, X509Chain? chain)
    {
        if (certificate is null)
        {
            LogServerRefused(logger, serviceId, "it sent no certificate");
            return false;
        }

        var server = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if (source.Current.Verify(server, chain, IdentityConstants.ServerAuthenticationOid, time.GetUtcNow(), out var reason) is not { } identity)
        {
            LogServerRefused(logger, serviceId, reason ?? "its certificate is not from the mesh CA");
            return false;
        }

        if (!string.Equals(identity.Name, serviceId, StringComparison.OrdinalIgnoreCase))
        {
            LogServerRefused(logger, serviceId, $"its certificate identifies '{identity.Name}'");
            return false;
        }

        return true;
    }

    [LoggerMessage(EventId = 8022, EventName = "MeshServerCertificateRefused", Level = LogLevel.Warning,
        Message = "Refused the TLS connection to '{ServiceId}': {Reason}.")]
    private static partial void LogServerRefused(ILogger logger, string serviceId, string reason);
}
