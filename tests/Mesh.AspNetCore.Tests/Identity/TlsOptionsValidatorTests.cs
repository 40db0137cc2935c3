using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>Every way <c>Mesh:Tls</c> and <c>Mesh:Authorization</c> can be wrong stops the host at startup, naming the key.</summary>
public sealed class TlsOptionsValidatorTests : IDisposable
{
    private readonly MeshCertificates _certificates = new();

    [Fact]
    public async Task StartAsync_ValidTls_Starts()
    {
        using var host = Build(_certificates.TlsJson(_certificates.Issue("s")));

        await host.StartAsync(TestContext.Current.CancellationToken);
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    [Theory]
    [InlineData("CertificatePath", "Mesh:Tls:CertificatePath")]
    [InlineData("KeyPath", "Mesh:Tls:KeyPath")]
    [InlineData("CaPath", "Mesh:Tls:CaPath")]
    public async Task StartAsync_TlsPartlySet_FailsNamingTheMissingKey(string left, string key)
    {
        var issued = _certificates.Issue("s");
        var paths = new Dictionary<string, string>
        {
            ["CertificatePath"] = issued.CertificatePath, ["KeyPath"] = issued.KeyPath, ["CaPath"] = _certificates.CaPath,
        };
        paths.Remove(left);

        var error = await StartFailsAsync(Json(paths));

        Assert.Contains($"{key} is missing", error, StringComparison.Ordinal);
        Assert.Contains("Mesh:Tls is partly set", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("CertificatePath", "Mesh:Tls:CertificatePath")]
    [InlineData("KeyPath", "Mesh:Tls:KeyPath")]
    [InlineData("CaPath", "Mesh:Tls:CaPath")]
    public async Task StartAsync_MissingFile_FailsNamingTheKey(string missing, string key)
    {
        var paths = Paths(_certificates.Issue("s"));
        paths[missing] = Path.Combine(_certificates.Directory, "absent.pem");

        var error = await StartFailsAsync(Json(paths));

        Assert.Contains($"{key} ('{paths[missing]}') does not exist", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("CertificatePath", "Mesh:Tls:CertificatePath")]
    [InlineData("KeyPath", "Mesh:Tls:KeyPath")]
    [InlineData("CaPath", "Mesh:Tls:CaPath")]
    public async Task StartAsync_UnreadablePem_FailsNamingTheKey(string garbled, string key)
    {
        var paths = Paths(_certificates.Issue("s"));
        var path = Path.Combine(_certificates.Directory, "garbled.pem");
        File.WriteAllText(path, "this is not PEM");
        paths[garbled] = path;

        var error = await StartFailsAsync(Json(paths));

        Assert.Contains($"{key} ('{path}')", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_KeyOfAnotherCertificate_FailsNamingTheKeyPath()
    {
        var paths = Paths(_certificates.Issue("s"));
        paths["KeyPath"] = _certificates.Issue("other").KeyPath;

        var error = await StartFailsAsync(Json(paths));

        Assert.Contains("Mesh:Tls:KeyPath", error, StringComparison.Ordinal);
        Assert.Contains("does not match the certificate in Mesh:Tls:CertificatePath", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_ExpiredCertificate_FailsNamingTheCertificatePath()
    {
        var expired = _certificates.Issue("s", notBefore: DateTimeOffset.UtcNow.AddHours(-20), notAfter: DateTimeOffset.UtcNow.AddHours(-1));

        var error = await StartFailsAsync(_certificates.TlsJson(expired));

        Assert.Contains("Mesh:Tls:CertificatePath", error, StringComparison.Ordinal);
        Assert.Contains("expired on", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_CertificateExpiredByTheClock_FailsWithTheInjectedTime()
    {
        var issued = _certificates.Issue("s", notAfter: DateTimeOffset.UtcNow.AddDays(2));
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow.AddDays(3));

        var error = await StartFailsAsync(_certificates.TlsJson(issued), time);

        Assert.Contains("Mesh:Tls:CertificatePath", error, StringComparison.Ordinal);
        Assert.Contains("expired on", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_CertificateWithoutIdentity_FailsNamingTheCertificatePath()
    {
        var nameless = _certificates.Issue("s", spiffe: false, commonName: "two words");

        var error = await StartFailsAsync(_certificates.TlsJson(nameless));

        Assert.Contains("Mesh:Tls:CertificatePath", error, StringComparison.Ordinal);
        Assert.Contains("names no identity", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_CertificateOfAnotherCa_FailsNamingBothKeys()
    {
        using var other = new MeshCertificates("other-ca");
        var paths = Paths(other.Issue("s"));

        var error = await StartFailsAsync(Json(paths));

        Assert.Contains("Mesh:Tls:CertificatePath", error, StringComparison.Ordinal);
        Assert.Contains("is not issued by the CA in Mesh:Tls:CaPath", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_AllowedCallersWithoutTls_FailsNamingAuthorization()
    {
        using var host = BuildRaw("""{ "ServiceId": "s", "Authorization": { "AllowedCallers": [ "order-service" ] } }""");

        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("Mesh:Authorization needs Mesh:Tls", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{ "AllowedCallers": [ "two words" ] }""", "Mesh:Authorization:AllowedCallers:0")]
    [InlineData("""{ "Methods": [ { "Method": "Say", "AllowedCallers": [ "a" ] } ] }""", "Mesh:Authorization:Methods:0:Method")]
    [InlineData("""{ "Methods": [ { "Method": "a.B/*", "AllowedCallers": [ "a" ] }, { "Method": "a.B/*" } ] }""", "Mesh:Authorization:Methods:1:Method")]
    [InlineData("""{ "AllowedCaller": [ "a" ] }""", "Mesh:Authorization:AllowedCaller")]
    public async Task StartAsync_InvalidAuthorization_FailsNamingTheKey(string authorization, string key)
    {
        using var host = BuildRaw($$"""{ "ServiceId": "s", "Tls": {{_certificates.TlsJson(_certificates.Issue("s"))}}, "Authorization": {{authorization}} }""");

        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_MisspeltTlsKey_FailsNamingIt()
    {
        using var host = BuildRaw("""{ "ServiceId": "s", "Tls": { "CertPath": "a" } }""");

        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("Mesh:Tls:CertPath", error.Message, StringComparison.Ordinal);
    }

    public void Dispose() => _certificates.Dispose();

    private Dictionary<string, string> Paths(IssuedCertificate issued) => new()
    {
        ["CertificatePath"] = issued.CertificatePath, ["KeyPath"] = issued.KeyPath, ["CaPath"] = _certificates.CaPath,
    };

    private static string Json(Dictionary<string, string> paths) =>
        "{ " + string.Join(", ", paths.Select(p => $"\"{p.Key}\": \"{p.Value.Replace("\\", "\\\\", StringComparison.Ordinal)}\"")) + " }";

    private static async Task<string> StartFailsAsync(string tlsJson, TimeProvider? time = null)
    {
        using var host = Build(tlsJson, time);
        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync(TestContext.Current.CancellationToken));
        return error.Message;
    }

    private static IHost Build(string tlsJson, TimeProvider? time = null) =>
        BuildRaw($$"""{ "ServiceId": "s", "Tls": {{tlsJson}} }""", time);

    private static IHost BuildRaw(string meshJson, TimeProvider? time = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes($$"""{ "Mesh": {{meshJson}} }""")));
        builder.Logging.ClearProviders();
        if (time is not null)
        {
            builder.Services.AddSingleton(time);
        }

        builder.Services.AddSecureMesh();
        return builder.Build();
    }
}
