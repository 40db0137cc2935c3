using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.AspNetCore.Tests.Infrastructure;
using Mesh.AspNetCore.Tests.Protos;
using Mesh.AspNetCore.Tests.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>The Echo service answering with the name of the caller's identity, recording every handler invocation.</summary>
public sealed class IdentityEchoService(HandlerCalls calls) : Echo.EchoBase
{
    public override Task<EchoReply> Say(EchoRequest request, ServerCallContext context)
    {
        calls.RecordGrpc();
        var user = context.GetHttpContext().User;
        return Task.FromResult(new EchoReply { Text = request.Text, Caller = user.Identity?.IsAuthenticated == true ? user.Identity.Name : string.Empty });
    }

    public override async Task ServerStream(EchoRequest request, IServerStreamWriter<EchoReply> responseStream, ServerCallContext context)
    {
        calls.RecordGrpc();
        await responseStream.WriteAsync(new EchoReply { Text = request.Text }, context.CancellationToken);
    }
}

/// <summary>
/// A real mesh service, <c>echo-service</c>, serving gRPC over mutual TLS on its <c>Mesh:Port</c> (127.0.0.1), with its
/// certificate issued by <see cref="MeshCertificates"/>; and mesh clients that call it through <c>AddClient</c>.
/// </summary>
public sealed class TlsEchoServer : IAsyncDisposable
{
    public const string ServiceId = "echo-service";

    private TlsEchoServer(MeshTestHost host) => Host = host;

    public MeshTestHost Host { get; }

    public int Port => Host.Port;

    public HandlerCalls Calls => Host.Services.GetRequiredService<HandlerCalls>();

    /// <summary>Starts the service; <paramref name="meshJson"/> adds members to its <c>Mesh</c> section.</summary>
    public static async Task<TlsEchoServer> StartAsync(MeshCertificates certificates, IssuedCertificate certificate, string meshJson = "",
        Action<WebApplicationBuilder>? configure = null, Action<WebApplication>? map = null)
    {
        var extra = meshJson.Length == 0 ? string.Empty : ", " + meshJson;
        // The mutual TLS endpoint is the one on Mesh:Port, so the port is chosen before the start.
        var host = await FreePort.StartAsync(port => MeshTestHost.StartAsync($$"""
            { "Mesh": { "ServiceId": "{{ServiceId}}", "Port": {{port}}, "ListenAddress": "127.0.0.1",
                        "Tls": {{certificates.TlsJson(certificate)}}{{extra}} } }
            """, b =>
        {
            b.Services.AddGrpc();
            b.Services.AddGrpcHealthChecks();
            b.Services.AddSingleton<HandlerCalls>();
            b.Services.AddSecureMesh();
            configure?.Invoke(b);
        }, app =>
        {
            app.MapGrpcService<IdentityEchoService>();
            app.MapGrpcHealthChecksService();
            map?.Invoke(app);
        }, listen: false));
        return new TlsEchoServer(host);
    }

    /// <summary>
    /// A mesh client application (<c>AddClient&lt;Echo.EchoClient&gt;</c>) with <paramref name="certificate"/>, its
    /// <c>Mesh:ServiceId</c> being <paramref name="serviceId"/>, no retries and no breaker, so each call shows its own status.
    /// </summary>
    public IHost CreateClient(MeshCertificates certificates, IssuedCertificate certificate, string? serviceId = null, string targetId = ServiceId) =>
        CreateClient(certificates.TlsJson(certificate), serviceId ?? Path.GetFileNameWithoutExtension(certificate.CertificatePath), targetId);

    public IHost CreateClient(string tlsJson, string serviceId, string targetId = ServiceId) => CreateClient(Port, tlsJson, serviceId, targetId);

    /// <summary>A mesh client application as above, whose discovery entry for <paramref name="targetId"/> is 127.0.0.1:<paramref name="port"/>.</summary>
    public static IHost CreateClient(int port, string tlsJson, string serviceId, string targetId = ServiceId)
    {
        var json = $$"""
            { "Mesh": { "ServiceId": "{{serviceId}}", "Tls": {{tlsJson}},
                "Resilience": { "Retry": { "MaxAttempts": 0 }, "CircuitBreaker": { "Enabled": false } },
                "Discovery": { "Services": [ { "Id": "{{targetId}}", "Host": "127.0.0.1", "Port": {{port}} } ] } } }
            """;
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json)));
        var logs = new TestLoggerProvider();
        builder.Logging.AddProvider(logs);
        builder.Services.AddSingleton(logs);
        builder.Services.AddSecureMesh().AddClient<Echo.EchoClient>(targetId);
        return builder.Build();
    }

    /// <summary>A plain gRPC channel to the service that trusts any server certificate and presents <paramref name="clientCertificate"/>, if any.</summary>
    public GrpcChannel CreateRawChannel(X509Certificate2? clientCertificate, Action<string>? serverThumbprint = null)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                {
                    serverThumbprint?.Invoke(certificate!.GetCertHashString());
                    return true;
                },
                ClientCertificates = clientCertificate is null ? null : new X509CertificateCollection { clientCertificate },
            },
        };
        return GrpcChannel.ForAddress(new Uri($"https://127.0.0.1:{Port}"), new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
    }

    /// <summary>
    /// A client whose certificate the server refused sees the connection fail: during its TLS 1.3 handshake (grpc-dotnet
    /// reports Internal, "The SSL connection could not be established") or right after it (Unavailable), as timing has it.
    /// </summary>
    public static void AssertHandshakeRefused(RpcException error) =>
        Assert.True(error.StatusCode is StatusCode.Unavailable or StatusCode.Internal, $"{error.StatusCode}: {error.Status.Detail}");

    public ValueTask DisposeAsync() => Host.DisposeAsync();
}

public static class MeshClientHostExtensions
{
    public static async Task<EchoReply> SayAsync(this IHost client, string text = "hi", Metadata? headers = null) =>
        await client.Services.GetRequiredService<Echo.EchoClient>().SayAsync(
            new EchoRequest { Text = text }, headers, cancellationToken: TestContext.Current.CancellationToken);

    public static async Task<StatusCode> SayStatusAsync(this IHost client, Metadata? headers = null)
    {
        try
        {
            await client.SayAsync(headers: headers);
            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }
}
