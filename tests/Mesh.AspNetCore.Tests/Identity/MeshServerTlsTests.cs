using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using System.Diagnostics.Metrics;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>The <c>Mesh:Port</c> endpoint over mutual TLS: who gets in, and what a handler learns about the caller.</summary>
public sealed class MeshServerTlsTests
{
    [Fact]
    public async Task Say_MeshClientWithCertificateFromMeshCa_IsServedAsItsIdentity()
    {
        using var certificates = new MeshCertificates();
        await using var server = await TlsEchoServer.StartAsync(certificates, certificates.Issue(TlsEchoServer.ServiceId));
        using var client = server.CreateClient(certificates, certificates.Issue("order-service"));

        var reply = await client.SayAsync("hello");

        Assert.Equal(("hello", "order-service"), (reply.Text, reply.Caller));
        Assert.StartsWith("https://", server.Host.Address.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Say_IdentityFromCommonNameWhenNoSpiffeId_IsTheCaller()
    {
        using var certificates = new MeshCertificates();
        await using var server = await TlsEchoServer.StartAsync(certificates, certificates.Issue(TlsEchoServer.ServiceId));
        using var client = server.CreateClient(certificates, certificates.Issue("billing", spiffe: false));

        var reply = await client.SayAsync();

        Assert.Equal("billing", reply.Caller);
    }

    [Fact]
    public async Task Say_NoClientCertificate_RefusedWithNothingReachingAHandler()
    {
        using var certificates = new MeshCertificates();
        await using var server = await TlsEchoServer.StartAsync(certificates, certificates.Issue(TlsEchoServer.ServiceId));
        using var channel = server.CreateRawChannel(clientCertificate: null);

        var error = await Assert.ThrowsAsync<RpcException>(() => new Echo.EchoClient(channel)
            .SayAsync(new EchoRequest { Text = "x" }, cancellationToken: TestContext.Current.CancellationToken).ResponseAsync);

        TlsEchoServer.AssertHandshakeRefused(error);
        Assert.Equal(0, server.Calls.Grpc);
    }

    [Fact]
    public async Task Say_ClientCertificateFromAnotherCa_RefusedWithNothingReachingAHandler()
    {
        using var certificates = new MeshCertificates();
        using var other = new MeshCertificates("other-ca");
        await using var server = await TlsEchoServer.StartAsync(certificates, certificates.Issue(TlsEchoServer.ServiceId));
        using var channel = server.CreateRawChannel(other.Issue("order-service").Certificate);

        var error = await Assert.ThrowsAsync<RpcException>(() => new Echo.EchoClient(channel)
            .SayAsync(new EchoRequest { Text = "x" }, cancellationToken: TestContext.Current.CancellationToken).ResponseAsync);

        TlsEchoServer.AssertHandshakeRefused(error);
        Assert.Equal(0, server.Calls.Grpc);
    }

    [Fact]
    public async Task Say_CleartextToTheTlsPort_RefusedWithNothingReachingAHandler()
    {
        using var certificates = new MeshCertificates();
        await using var server = await TlsEchoServer.StartAsync(certificates, certificates.Issue(TlsEchoServer.ServiceId));
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(new Uri($"http://127.0.0.1:{server.Port}"));

        var error = await Assert.ThrowsAsync<RpcException>(() => new Echo.EchoClient(channel)
            .SayAsync(new EchoRequest { Text = "x" }, cancellationToken: TestContext.Current.CancellationToken).ResponseAsync);

        Assert.NotEqual(StatusCode.OK, error.StatusCode);
        Assert.Equal(0, server.Calls.Grpc);
    }

    [Fact]
    public async Task Say_ManyCallsOnOneClient_OneHandshakeForTheConnection()
    {
        using var certificates = new MeshCertificates();
        await using var server = await TlsEchoServer.StartAsync(certificates, certificates.Issue(TlsEchoServer.ServiceId));
        using var handshakes = new MetricCollector<double>(
            server.Host.Services.GetRequiredService<IMeterFactory>(), "Microsoft.AspNetCore.Server.Kestrel", "kestrel.tls_handshake.duration");
        using var client = server.CreateClient(certificates, certificates.Issue("order-service"));

        for (var i = 0; i < 20; i++)
        {
            await client.SayAsync();
        }

        Assert.Equal(20, server.Calls.Grpc);
        Assert.Single(handshakes.GetMeasurementSnapshot());
    }

    [Fact]
    public async Task Say_RefusedHandshake_IsCountedByTheHandshakeCounter()
    {
        // The counter of the previous test counts refused handshakes too: this shows it is not blind to them.
        using var certificates = new MeshCertificates();
        using var other = new MeshCertificates("other-ca");
        await using var server = await TlsEchoServer.StartAsync(certificates, certificates.Issue(TlsEchoServer.ServiceId));
        using var handshakes = new MetricCollector<double>(
            server.Host.Services.GetRequiredService<IMeterFactory>(), "Microsoft.AspNetCore.Server.Kestrel", "kestrel.tls_handshake.duration");
        using var channel = server.CreateRawChannel(other.Issue("order-service").Certificate);

        await Assert.ThrowsAsync<RpcException>(() => new Echo.EchoClient(channel)
            .SayAsync(new EchoRequest(), cancellationToken: TestContext.Current.CancellationToken).ResponseAsync);

        Assert.NotEmpty(handshakes.GetMeasurementSnapshot());
        Assert.Equal(0, server.Calls.Grpc);
    }
}
