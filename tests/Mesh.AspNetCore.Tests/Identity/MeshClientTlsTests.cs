using Microsoft.Extensions.DependencyInjection;
using Grpc.Core;
using Mesh.AspNetCore.Tests.RateLimiting;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>Mesh clients over mutual TLS: they accept only the target service, certified by the mesh CA.</summary>
public sealed class MeshClientTlsTests
{
    [Fact]
    public async Task Say_ServerCertificateNamesAnotherService_ClientRefusesBeforeSendingTheCall()
    {
        using var certificates = new MeshCertificates();
        await using var server = await TlsEchoServer.StartAsync(certificates, certificates.Issue("impostor-service"));
        using var client = server.CreateClient(certificates, certificates.Issue("order-service"));

        var error = await Assert.ThrowsAsync<RpcException>(() => client.SayAsync());

        // grpc-dotnet reports a TLS handshake the client refused as Internal ("The SSL connection could not be established").
        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Contains("SSL", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0, server.Calls.Grpc);
        Assert.Contains(client.Services.GetRequiredService<Infrastructure.TestLoggerProvider>().Entries,
            e => e.Message.Contains("impostor-service", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Say_ServerCertificateFromAnotherCa_ClientRefuses()
    {
        using var certificates = new MeshCertificates();
        using var other = new MeshCertificates("other-ca");
        var serverCertificate = other.Issue(TlsEchoServer.ServiceId);
        await using var server = await TlsEchoServer.StartAsync(other, serverCertificate);
        using var client = server.CreateClient(certificates, certificates.Issue("order-service"));

        var error = await Assert.ThrowsAsync<RpcException>(() => client.SayAsync());

        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Contains("SSL", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0, server.Calls.Grpc);
    }

    [Fact]
    public async Task Say_ServerWithoutTls_ClientFailsWithoutFallingBackToCleartext()
    {
        using var certificates = new MeshCertificates();
        await using var cleartext = await RateLimitedService.StartWithJsonAsync("""{ "Mesh": { "ServiceId": "echo-service" } }""");
        using var client = TlsEchoServer.CreateClient(cleartext.Host.Port, certificates.TlsJson(certificates.Issue("order-service")), "order-service");

        var error = await Assert.ThrowsAsync<RpcException>(() => client.SayAsync());

        // The client started a TLS handshake, which an HTTP/2 cleartext server cannot answer, and tried nothing else.
        Assert.True(error.StatusCode is StatusCode.Unavailable or StatusCode.Internal, $"{error.StatusCode}: {error.Status.Detail}");
        Assert.Equal(0, cleartext.Calls.Grpc);
    }
}
