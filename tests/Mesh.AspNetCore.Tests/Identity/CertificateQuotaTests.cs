using Grpc.Core;
using Mesh.AspNetCore.Tests.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>The inbound rate limit over mutual TLS: one quota per certificate identity, whatever header a caller sends.</summary>
public sealed class CertificateQuotaTests
{
    private const string TwoPerCaller = """ "Resilience": { "RateLimit": { "MaxRequests": 2, "WindowMs": 60000 } } """;

    [Fact]
    public async Task Say_TwoIdentitiesSendingOneServiceId_EachHasItsOwnQuota()
    {
        using var certificates = new MeshCertificates();
        await using var server = await TlsEchoServer.StartAsync(certificates, certificates.Issue(TlsEchoServer.ServiceId), TwoPerCaller);
        using var orders = server.CreateClient(certificates, certificates.Issue("order-service"), serviceId: "same-id");
        using var reports = server.CreateClient(certificates, certificates.Issue("report-service"), serviceId: "same-id");

        var statuses = new List<StatusCode>();
        foreach (var client in new[] { orders, orders, orders, reports, reports, reports })
        {
            statuses.Add(await client.SayStatusAsync());
        }

        Assert.Equal([StatusCode.OK, StatusCode.OK, StatusCode.ResourceExhausted, StatusCode.OK, StatusCode.OK, StatusCode.ResourceExhausted], statuses);
    }

    [Fact]
    public async Task Say_OneIdentityRotatingServiceIds_KeepsItsOneQuota()
    {
        using var certificates = new MeshCertificates();
        await using var server = await TlsEchoServer.StartAsync(certificates, certificates.Issue(TlsEchoServer.ServiceId), TwoPerCaller);
        await AssertOneQuotaAsync(certificates, server);
    }

    [Fact]
    public async Task Say_ApplicationWithAnotherDefaultScheme_StillCountsByCertificateIdentity()
    {
        using var certificates = new MeshCertificates();
        await using var server = await TlsEchoServer.StartAsync(certificates, certificates.Issue(TlsEchoServer.ServiceId), TwoPerCaller,
            configure: b => b.Services.AddAuthentication(TestAuthenticationHandler.SchemeName)
                .AddScheme<AuthenticationSchemeOptions, TestAuthenticationHandler>(TestAuthenticationHandler.SchemeName, null));
        await AssertOneQuotaAsync(certificates, server);
    }

    private static async Task AssertOneQuotaAsync(MeshCertificates certificates, TlsEchoServer server)
    {
        using var channel = server.CreateRawChannel(certificates.Issue("report-service").Certificate);
        var echo = new Protos.Echo.EchoClient(channel);

        var admitted = 0;
        for (var i = 0; i < 10; i++)
        {
            try
            {
                await echo.SayAsync(new Protos.EchoRequest(), new Metadata { { "x-mesh-service-id", "spoofed-" + i } },
                    cancellationToken: TestContext.Current.CancellationToken);
                admitted++;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted)
            {
            }
        }

        Assert.Equal((2, 2), (admitted, server.Calls.Grpc));
    }
}
