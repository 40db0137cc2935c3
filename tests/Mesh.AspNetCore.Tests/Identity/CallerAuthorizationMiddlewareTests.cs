using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Health.V1;
using Mesh.AspNetCore.Tests.Protos;
using Mesh.AspNetCore.Tests.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary><c>Mesh:Authorization</c> and the caller's identity as its <c>ClaimsPrincipal</c>, over real mutual TLS.</summary>
public sealed class CallerAuthorizationMiddlewareTests
{
    private const string OnlyOrders = """ "Authorization": { "AllowedCallers": [ "order-service" ] } """;

    [Fact]
    public async Task Say_AllowedCaller_IsServed()
    {
        using var certificates = new MeshCertificates();
        await using var server = await TlsEchoServer.StartAsync(certificates, certificates.Issue(TlsEchoServer.ServiceId), OnlyOrders);
        using var client = server.CreateClient(certificates, certificates.Issue("order-service"));

        var reply = await client.SayAsync();

        Assert.Equal(("order-service", 1), (reply.Caller, server.Calls.Grpc));
    }

    [Fact]
    public async Task Say_CallerNotAllowed_PermissionDeniedBeforeTheHandler()
    {
        using var certificates = new MeshCertificates();
        await using var server = await TlsEchoServer.StartAsync(certificates, certificates.Issue(TlsEchoServer.ServiceId), OnlyOrders);
        using var client = server.CreateClient(certificates, certificates.Issue("report-service"));

        var error = await Assert.ThrowsAsync<RpcException>(() => client.SayAsync());

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        Assert.Contains("report-service", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0, server.Calls.Grpc);
    }

    [Fact]
    public async Task Say_AllowedCallersReloaded_NewRuleAppliesToTheNextCall()
    {
        using var certificates = new MeshCertificates();
        var overrides = new ReloadableConfigurationSource(new Dictionary<string, string?>());
        await using var server = await TlsEchoServer.StartAsync(certificates, certificates.Issue(TlsEchoServer.ServiceId), OnlyOrders,
            b => ((IConfigurationBuilder)b.Configuration).Add(overrides));
        using var orders = server.CreateClient(certificates, certificates.Issue("order-service"));
        using var reports = server.CreateClient(certificates, certificates.Issue("report-service"));
        Assert.Equal("order-service", (await orders.SayAsync()).Caller);

        overrides.Replace(new Dictionary<string, string?> { ["Mesh:Authorization:AllowedCallers:0"] = "report-service" });

        Assert.Equal(StatusCode.PermissionDenied, await orders.SayStatusAsync());
        Assert.Equal("report-service", (await reports.SayAsync()).Caller);
    }

    [Fact]
    public async Task Say_FloodOfDeniedCalls_NoLogLineAtInformationFromAnyCategory()
    {
        using var certificates = new MeshCertificates();
        await using var server = await TlsEchoServer.StartAsync(certificates, certificates.Issue(TlsEchoServer.ServiceId), OnlyOrders);
        using var intruder = server.CreateClient(certificates, certificates.Issue("report-service"));
        Assert.Equal(StatusCode.PermissionDenied, await intruder.SayStatusAsync());
        var before = server.Host.Logs.Entries.Count;

        // A caller hammering a method it may not call, 32 calls at once: a denial is answered like a rate-limit rejection,
        // after the request message has arrived, so that Kestrel does not log each one as a request body left unread.
        using var gate = new SemaphoreSlim(32);
        var statuses = await Task.WhenAll(Enumerable.Range(0, 200).Select(async _ =>
        {
            await gate.WaitAsync(TestContext.Current.CancellationToken);
            try
            {
                return await intruder.SayStatusAsync();
            }
            finally
            {
                gate.Release();
            }
        }));

        Assert.All(statuses, s => Assert.Equal(StatusCode.PermissionDenied, s));
        var others = server.Host.Logs.Entries.Skip(before)
            .Where(e => !(e.Category == "Microsoft.AspNetCore.Hosting.Diagnostics" && e.EventId.Id is 1 or 2)).ToList();
        Assert.True(others.Count == 0, string.Join(Environment.NewLine, others.Take(5).Select(e => $"{e.Level} {e.Category}: {e.Message}")));
        Assert.Equal(0, server.Calls.Grpc);
    }

    [Fact]
    public async Task Say_CallerNotAllowedClaimingAnAllowedServiceId_PermissionDenied()
    {
        using var certificates = new MeshCertificates();
        await using var server = await TlsEchoServer.StartAsync(certificates, certificates.Issue(TlsEchoServer.ServiceId), OnlyOrders);

        // Its Mesh:ServiceId, sent as x-mesh-service-id, says order-service; its certificate says report-service.
        using var client = server.CreateClient(certificates, certificates.Issue("report-service"), serviceId: "order-service");
        var status = await client.SayStatusAsync(new Metadata { { "x-mesh-service-id", "order-service" } });

        Assert.Equal(StatusCode.PermissionDenied, status);
        Assert.Equal(0, server.Calls.Grpc);
    }

    [Fact]
    public async Task Say_DeniedCalls_CountAgainstNoQuota()
    {
        using var certificates = new MeshCertificates();
        await using var server = await TlsEchoServer.StartAsync(certificates, certificates.Issue(TlsEchoServer.ServiceId),
            OnlyOrders + """, "Resilience": { "RateLimit": { "MaxRequests": 2, "WindowMs": 60000, "PartitionBy": "Global" } } """);
        using var intruder = server.CreateClient(certificates, certificates.Issue("report-service"));
        using var orders = server.CreateClient(certificates, certificates.Issue("order-service"));

        var denied = new List<StatusCode>();
        for (var i = 0; i < 5; i++)
        {
            denied.Add(await intruder.SayStatusAsync());
        }

        var served = new[] { await orders.SayStatusAsync(), await orders.SayStatusAsync(), await orders.SayStatusAsync() };

        Assert.All(denied, s => Assert.Equal(StatusCode.PermissionDenied, s));
        Assert.Equal([StatusCode.OK, StatusCode.OK, StatusCode.ResourceExhausted], served);
        Assert.Equal(2, server.Calls.Grpc);
    }

    [Fact]
    public async Task Check_HealthServiceWithCallerNotAllowed_IsOpen()
    {
        using var certificates = new MeshCertificates();
        await using var server = await TlsEchoServer.StartAsync(certificates, certificates.Issue(TlsEchoServer.ServiceId), OnlyOrders);
        using var channel = server.CreateRawChannel(certificates.Issue("probe").Certificate);

        var health = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), cancellationToken: TestContext.Current.CancellationToken);
        var say = await Assert.ThrowsAsync<RpcException>(() => new Echo.EchoClient(channel)
            .SayAsync(new EchoRequest(), cancellationToken: TestContext.Current.CancellationToken).ResponseAsync);

        Assert.NotNull(health);
        Assert.Equal(StatusCode.PermissionDenied, say.StatusCode);
    }

    [Fact]
    public async Task Say_MethodRuleAllowsAnotherCaller_RuleWinsForThatMethodOnly()
    {
        using var certificates = new MeshCertificates();
        await using var server = await TlsEchoServer.StartAsync(certificates, certificates.Issue(TlsEchoServer.ServiceId), """
            "Authorization": { "AllowedCallers": [ "order-service" ],
                               "Methods": [ { "Method": "mesh.tests.Echo/Say", "AllowedCallers": [ "report-service" ] } ] }
            """);
        using var channel = server.CreateRawChannel(certificates.Issue("report-service").Certificate);
        var echo = new Echo.EchoClient(channel);

        var reply = await echo.SayAsync(new EchoRequest { Text = "x" }, cancellationToken: TestContext.Current.CancellationToken);
        using var stream = echo.ServerStream(new EchoRequest(), cancellationToken: TestContext.Current.CancellationToken);
        var streamError = await Assert.ThrowsAsync<RpcException>(() => stream.ResponseStream.MoveNext(TestContext.Current.CancellationToken));

        Assert.Equal("report-service", reply.Caller);
        Assert.Equal(StatusCode.PermissionDenied, streamError.StatusCode);
        Assert.Equal(1, server.Calls.Grpc);
    }

    [Fact]
    public async Task Say_ServiceWideMethodRule_AppliesToEveryMethodOfTheService()
    {
        using var certificates = new MeshCertificates();
        await using var server = await TlsEchoServer.StartAsync(certificates, certificates.Issue(TlsEchoServer.ServiceId), """
            "Authorization": { "Methods": [ { "Method": "mesh.tests.Echo/*", "AllowedCallers": [ "order-service" ] } ] }
            """);
        using var orders = server.CreateClient(certificates, certificates.Issue("order-service"));
        using var reports = server.CreateClient(certificates, certificates.Issue("report-service"));

        var statuses = (await orders.SayStatusAsync(), await reports.SayStatusAsync());

        Assert.Equal((StatusCode.OK, StatusCode.PermissionDenied), statuses);
    }

    [Fact]
    public async Task Get_AuthorizationPolicyOnTheIdentity_AllowsItAndForbidsOthers()
    {
        using var certificates = new MeshCertificates();
        await using var server = await TlsEchoServer.StartAsync(certificates, certificates.Issue(TlsEchoServer.ServiceId),
            configure: b => b.Services.AddAuthorization(),
            map: app => app.MapGet("/whoami", (HttpContext context) => context.User.Identity!.Name)
                .RequireAuthorization(policy => policy.RequireUserName("order-service")));

        var allowed = await GetAsync(server, certificates.Issue("order-service").Certificate);
        var forbidden = await GetAsync(server, certificates.Issue("report-service").Certificate);

        Assert.Equal((HttpStatusCode.OK, "order-service"), allowed);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.Status);
    }

    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(TlsEchoServer server, X509Certificate2 certificate)
    {
        using var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
                ClientCertificates = new X509CertificateCollection { certificate },
            },
        };
        using var http = new HttpClient(handler) { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var response = await http.GetAsync(new Uri($"https://127.0.0.1:{server.Port}/whoami"), TestContext.Current.CancellationToken);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }
}
