using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>
/// A mesh CA and the certificates it issues, made with <see cref="CertificateRequest"/> and written as PEM files to a
/// directory of their own, deleted on dispose.
/// </summary>
public sealed class MeshCertificates : IDisposable
{
    private readonly ECDsa _caKey;

    public MeshCertificates(string name = "mesh-ca")
    {
        Directory = Path.Combine(Path.GetTempPath(), "mesh-tls-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", _caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        Authority = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        CaPath = Path.Combine(Directory, name + ".crt");
        File.WriteAllText(CaPath, Authority.ExportCertificatePem());
    }

    public string Directory { get; }

    public X509Certificate2 Authority { get; }

    public string CaPath { get; }

    /// <summary>Issues a certificate for <paramref name="serviceId"/> with the SPIFFE id <c>spiffe://mesh.test/ns/default/sa/{serviceId}</c>.</summary>
    public IssuedCertificate Issue(string serviceId, string? fileName = null, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null,
        bool spiffe = true, string? commonName = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName ?? serviceId}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        if (spiffe)
        {
            names.AddUri(new Uri($"spiffe://mesh.test/ns/default/sa/{serviceId}"));
        }

        request.CertificateExtensions.Add(names.Build());
        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7F;
        using var issued = request.Create(Authority, notBefore ?? DateTimeOffset.UtcNow.AddDays(-1), notAfter ?? DateTimeOffset.UtcNow.AddDays(30), serial);
        var certificate = issued.CopyWithPrivateKey(key);
        var baseName = Path.Combine(Directory, fileName ?? serviceId);
        var result = new IssuedCertificate(certificate, baseName + ".crt", baseName + ".key");
        result.Write();
        return result;
    }

    /// <summary>The <c>Tls</c> section for <paramref name="certificate"/>, as JSON.</summary>
    public string TlsJson(IssuedCertificate certificate) =>
        $$"""{ "CertificatePath": "{{Escape(certificate.CertificatePath)}}", "KeyPath": "{{Escape(certificate.KeyPath)}}", "CaPath": "{{Escape(CaPath)}}" }""";

    private static string Escape(string path) => path.Replace("\\", "\\\\", StringComparison.Ordinal);

    public void Dispose()
    {
        _caKey.Dispose();
        Authority.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A certificate with its key, and the PEM files they are written to.</summary>
public sealed record IssuedCertificate(X509Certificate2 Certificate, string CertificatePath, string KeyPath)
{
    public string Thumbprint => Certificate.Thumbprint;

    public void Write()
    {
        File.WriteAllText(CertificatePath, Certificate.ExportCertificatePem());
        using var key = Certificate.GetECDsaPrivateKey()!;
        File.WriteAllText(KeyPath, key.ExportPkcs8PrivateKeyPem());
    }
}
