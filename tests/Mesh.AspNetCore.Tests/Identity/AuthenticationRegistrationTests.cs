using System.Globalization;
using Mesh.AspNetCore.Tests.Infrastructure;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>
/// <c>AddSecureMesh</c> adds ASP.NET Core authentication for the <c>MeshCertificate</c> scheme only when <c>Mesh:Tls</c>
/// may be set, so that an application without TLS and without authentication of its own does not run the
/// authentication middleware on every request.
/// </summary>
public sealed class AuthenticationRegistrationTests
{
    private const string WithoutTls = """{ "Mesh": { "ServiceId": "echo-service" } }""";

    [Fact]
    public async Task AddSecureMesh_NoTls_RequestsDoNotRunTheAuthenticationMiddleware()
    {
        await using var host = await MeshTestHost.StartAsync(WithoutTls, b => b.Services.AddSecureMesh(), MapAuthenticationProbe);
        using var http = host.CreateHttpClient();

        var ranAuthentication = await http.GetStringAsync(new Uri("/authenticated-by-middleware", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal("False", ranAuthentication);
        Assert.False(host.Services.GetRequiredService<IServiceProviderIsService>().IsService(typeof(IAuthenticationSchemeProvider)));
    }

    [Fact]
    public async Task AddSecureMesh_NoTlsButTheApplicationsOwnAuthentication_ItsMiddlewareStillRuns()
    {
        await using var host = await MeshTestHost.StartAsync(WithoutTls, b =>
        {
            b.Services.AddSecureMesh();
            b.Services.AddAuthentication();
        }, MapAuthenticationProbe);
        using var http = host.CreateHttpClient();

        var ranAuthentication = await http.GetStringAsync(new Uri("/authenticated-by-middleware", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal("True", ranAuthentication);
    }

    [Fact]
    public async Task AddSecureMesh_TlsInConfiguration_MeshCertificateSchemeRegistered()
    {
        using var certificates = new MeshCertificates();
        var json = $$"""{ "Mesh": { "ServiceId": "echo-service", "Tls": {{certificates.TlsJson(certificates.Issue("echo-service"))}} } }""";
        await using var app = MeshTestHost.Build(json, b => b.Services.AddSecureMesh());

        var scheme = await app.Services.GetRequiredService<IAuthenticationSchemeProvider>().GetSchemeAsync("MeshCertificate");

        Assert.NotNull(scheme);
    }

    [Fact]
    public async Task AddSecureMesh_OptionsSetInCode_AuthenticationRegistered()
    {
        await using var app = MeshTestHost.Build(null, b => b.Services.AddSecureMesh(o => o.ServiceId = "echo-service"));

        Assert.True(app.Services.GetRequiredService<IServiceProviderIsService>().IsService(typeof(IAuthenticationSchemeProvider)));
    }

    [Fact]
    public async Task Start_TlsAddedAfterAddSecureMesh_FailsNamingMeshTlsAndTheFix()
    {
        using var certificates = new MeshCertificates();
        var issued = certificates.Issue("echo-service");

        // Building the application already reads the mesh options (for Kestrel's endpoints): the start-up ends there.
        var error = await Assert.ThrowsAnyAsync<Exception>(() => MeshTestHost.StartAsync(WithoutTls, b =>
        {
            b.Services.AddSecureMesh();
            b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Mesh:Tls:CertificatePath"] = issued.CertificatePath,
                ["Mesh:Tls:KeyPath"] = issued.KeyPath,
                ["Mesh:Tls:CaPath"] = certificates.CaPath,
            });
        }, _ => { }, listen: false));

        Assert.Contains("Mesh:Tls is set, but it was not in the configuration when AddSecureMesh() ran", error.Message, StringComparison.Ordinal);
        Assert.Contains("AddAuthentication()", error.Message, StringComparison.Ordinal);
    }

    // The authentication middleware puts an IAuthenticationFeature on every request it sees.
    private static void MapAuthenticationProbe(WebApplication app) =>
        app.MapGet("/authenticated-by-middleware", (HttpContext context) =>
            (context.Features.Get<IAuthenticationFeature>() is not null).ToString(CultureInfo.InvariantCulture));
}
