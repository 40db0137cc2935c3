using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Mesh.AspNetCore.Identity.Internal;

namespace Mesh.AspNetCore.Tests.Identity;

public sealed class CertificateIdentityTests
{
    [Fact]
    public void Of_SpiffeId_LastPathSegment()
    {
        using var certificate = Create("CN=ignored", "spiffe://prod.example/ns/payments/sa/payment-service");

        var identity = CertificateIdentity.Of(certificate);

        Assert.Equal(new CertificateIdentity("payment-service", "spiffe://prod.example/ns/payments/sa/payment-service"), identity);
    }

    [Fact]
    public void Of_OtherUrisBeforeTheSpiffeId_FirstSpiffeIdWins()
    {
        using var certificate = Create("CN=ignored", "https://example.com/a/not-this", "spiffe://td/first", "spiffe://td/second");

        Assert.Equal("first", CertificateIdentity.Of(certificate)?.Name);
    }

    [Fact]
    public void Of_NoSpiffeId_SubjectCommonName()
    {
        using var certificate = Create("CN=order-service, O=Example", "https://example.com/order");

        Assert.Equal(new CertificateIdentity("order-service", null), CertificateIdentity.Of(certificate));
    }

    [Fact]
    public void Of_SpiffeIdWithoutPath_NoIdentityEvenWithACommonName()
    {
        using var certificate = Create("CN=order-service", "spiffe://td");

        Assert.Null(CertificateIdentity.Of(certificate));
    }

    [Fact]
    public void Of_NoNames_NoIdentity()
    {
        using var certificate = Create("O=Example");

        Assert.Null(CertificateIdentity.Of(certificate));
    }

    private static X509Certificate2 Create(string subject, params string[] uris)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        foreach (var uri in uris)
        {
            names.AddUri(new Uri(uri));
        }

        request.CertificateExtensions.Add(names.Build());
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
    }
}
