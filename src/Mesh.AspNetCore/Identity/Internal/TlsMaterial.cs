using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.AspNetCore.Identity.Internal;

/// <summary>
/// One consistent set of this service's certificate, its key and the mesh CA, as read from the <c>Mesh:Tls</c> files.
/// Immutable: a rotation replaces the whole set, so a handshake never sees a new certificate with an old key.
/// </summary>
internal sealed class TlsMaterial : IDisposable
{
    public TlsMaterial(X509Certificate2 certificate, X509Certificate2Collection intermediates, X509Certificate2Collection authorities,
        CertificateIdentity identity, TlsFileSnapshot files)
    {
        Certificate = certificate;
        Intermediates = intermediates;
        Authorities = authorities;
        Identity = identity;
        Files = files;
        ServerContext = SslStreamCertificateContext.Create(certificate, intermediates, offline: true);
    }

    /// <summary>This service's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>Certificates that followed the first one in the certificate file: sent to peers to complete the chain.</summary>
    public X509Certificate2Collection Intermediates { get; }

    /// <summary>The mesh CA certificates: the only roots a peer's certificate may chain to.</summary>
    public X509Certificate2Collection Authorities { get; }

    /// <summary>The identity this service's certificate proves.</summary>
    public CertificateIdentity Identity { get; }

    /// <summary>The file contents this set was read from, to tell whether a file changed.</summary>
    public TlsFileSnapshot Files { get; }

    /// <summary>This certificate and its intermediates, built once for every server handshake.</summary>
    public SslStreamCertificateContext ServerContext { get; }

    /// <summary>
    /// Checks a peer's certificate: it chains to a mesh CA (no other root, no revocation lookup, no downloads) at
    /// <paramref name="now"/>, allows the usage <paramref name="usageOid"/> (when given) if it restricts usages, and
    /// proves an identity. Returns that identity, or <see langword="null"/> with the reason.
    /// </summary>
    public CertificateIdentity? Verify(X509Certificate2 peer, X509Chain? presented, string? usageOid, DateTimeOffset now, out string? reason)
    {
        using var chain = new X509Chain();
        var policy = chain.ChainPolicy;
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        policy.CustomTrustStore.AddRange(Authorities);
        policy.RevocationMode = X509RevocationMode.NoCheck;
        policy.DisableCertificateDownloads = true;
        policy.VerificationTime = now.UtcDateTime;
        if (usageOid is not null)
        {
            policy.ApplicationPolicy.Add(new Oid(usageOid));
        }

        policy.ExtraStore.AddRange(Intermediates);
        if (presented is not null)
        {
            // Intermediates the peer sent with its certificate; they still have to chain to a mesh CA.
            foreach (var element in presented.ChainElements)
            {
                if (!element.Certificate.RawDataMemory.Span.SequenceEqual(peer.RawDataMemory.Span))
                {
                    policy.ExtraStore.Add(element.Certificate);
                }
            }
        }

        try
        {
            if (!chain.Build(peer))
            {
                reason = string.Join("; ", chain.ChainStatus.Select(static s => s.StatusInformation.Trim()).Distinct());
                return null;
            }
        }
        finally
        {
            foreach (var element in chain.ChainElements)
            {
                element.Certificate.Dispose();
            }
        }

        var identity = CertificateIdentity.Of(peer);
        reason = identity is null ? "the certificate names no identity (no spiffe:// URI name, no common name)" : null;
        return identity;
    }

    public void Dispose()
    {
        Certificate.Dispose();
        foreach (var certificate in Intermediates.Concat(Authorities))
        {
            certificate.Dispose();
        }
    }
}

/// <summary>The bytes of the three <c>Mesh:Tls</c> files, compared to tell whether any changed.</summary>
internal sealed record TlsFileSnapshot(byte[] Certificate, byte[] Key, byte[] Authorities)
{
    public bool SameAs(TlsFileSnapshot other) =>
        Certificate.AsSpan().SequenceEqual(other.Certificate)
        && Key.AsSpan().SequenceEqual(other.Key)
        && Authorities.AsSpan().SequenceEqual(other.Authorities);
}
