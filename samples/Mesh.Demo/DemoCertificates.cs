using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Demo;

/// <summary>
/// The demo's mesh CA and a certificate for each of its services and for the demo itself (which places the orders and
/// drives the control endpoints), minted at start with <see cref="CertificateRequest"/> into a temporary directory
/// that is deleted at the end. Each certificate's identity is its SPIFFE id, <c>spiffe://mesh.demo/sa/{service}</c>.
/// </summary>
internal sealed class DemoCertificates : IDisposable
{
    public const string DemoIdentity = "mesh-demo";

    private readonly X509Certificate2 _authority;

    public DemoCertificates(params string[] serviceIds)
    {
        Directory = Path.Combine(Path.GetTempPath(), "mesh-demo-tls-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=mesh-demo-ca", caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        _authority = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        CaPath = Write("mesh-ca.crt", _authority.ExportCertificatePem());
        foreach (var serviceId in serviceIds.Append(DemoIdentity))
        {
            Issue(serviceId, caKey);
        }

        DemoCertificate = X509Certificate2.CreateFromPemFile(CertificatePath(DemoIdentity), KeyPath(DemoIdentity));
    }

    public string Directory { get; }

    public string CaPath { get; }

    /// <summary>The demo's own client certificate, for the orders it places and the control endpoints it calls.</summary>
    public X509Certificate2 DemoCertificate { get; }

    public string CertificatePath(string serviceId) => Path.Combine(Directory, serviceId + ".crt");

    public string KeyPath(string serviceId) => Path.Combine(Directory, serviceId + ".key");

    /// <summary>The command-line arguments that give <paramref name="serviceId"/> its <c>Mesh:Tls</c> files.</summary>
    public string[] Arguments(string serviceId) =>
    [
        $"--Mesh:Tls:CertificatePath={CertificatePath(serviceId)}",
        $"--Mesh:Tls:KeyPath={KeyPath(serviceId)}",
        $"--Mesh:Tls:CaPath={CaPath}",
    ];

    /// <summary>
    /// A handler for the demo's own calls: it presents the demo's certificate and trusts only a server certificate from
    /// the demo CA.
    /// </summary>
    public SocketsHttpHandler CreateHandler() => new()
    {
        SslOptions = new SslClientAuthenticationOptions
        {
            ClientCertificates = new X509CertificateCollection { DemoCertificate },
            RemoteCertificateValidationCallback = (_, certificate, _, _) => IsFromDemoCa(certificate),
        },
    };

    private bool IsFromDemoCa(X509Certificate? certificate)
    {
        if (certificate is null)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    }

    private void Issue(string serviceId, ECDsa caKey)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={serviceId}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddUri(new Uri($"spiffe://mesh.demo/sa/{serviceId}"));
        request.CertificateExtensions.Add(names.Build());
        using var issued = request.Create(_authority.SubjectName, X509SignatureGenerator.CreateForECDsa(caKey),
            DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), [0x2A, .. RandomNumberGenerator.GetBytes(8)]);
        Write(serviceId + ".crt", issued.ExportCertificatePem());
        Write(serviceId + ".key", key.ExportPkcs8PrivateKeyPem());
    }

    private string Write(string name, string pem)
    {
        var path = Path.Combine(Directory, name);
        File.WriteAllText(path, pem);
        return path;
    }

    public void Dispose()
    {
        DemoCertificate.Dispose();
        _authority.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
