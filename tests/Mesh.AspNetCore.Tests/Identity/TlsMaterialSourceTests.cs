using Grpc.Core;
using Mesh.AspNetCore.Identity.Internal;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>Rotation: changed certificate, key and CA files apply to new connections without a restart.</summary>
public sealed class TlsMaterialSourceTests
{
    [Fact]
    public async Task Reload_NewCertificateFiles_NewConnectionsPresentThemOpenConnectionsKeepWorking()
    {
        using var certificates = new MeshCertificates();
        var first = certificates.Issue(TlsEchoServer.ServiceId, fileName: "server");
        await using var server = await TlsEchoServer.StartAsync(certificates, first);
        var caller = certificates.Issue("order-service").Certificate;
        string? seenBefore = null;
        using var before = server.CreateRawChannel(caller, t => seenBefore = t);
        await SayAsync(before);

        var rotated = NextReload(server);
        var second = certificates.Issue(TlsEchoServer.ServiceId, fileName: "server");
        Assert.True(await rotated.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
        string? seenAfter = null;
        using var after = server.CreateRawChannel(caller, t => seenAfter = t);
        await SayAsync(after);
        await SayAsync(before);

        Assert.Equal(first.Thumbprint, seenBefore);
        Assert.Equal(second.Thumbprint, seenAfter);
        Assert.Equal(3, server.Calls.Grpc);
    }

    [Fact]
    public async Task Reload_BadNewCertificateFile_LoggedAndTheLastGoodStays()
    {
        using var certificates = new MeshCertificates();
        var good = certificates.Issue(TlsEchoServer.ServiceId, fileName: "server");
        await using var server = await TlsEchoServer.StartAsync(certificates, good);
        var caller = certificates.Issue("order-service").Certificate;

        var refused = NextReload(server, expected: false);
        File.WriteAllText(good.CertificatePath, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
        Assert.False(await refused.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
        string? seen = null;
        using var channel = server.CreateRawChannel(caller, t => seen = t);
        await SayAsync(channel);

        Assert.Equal(good.Thumbprint, seen);
        Assert.Contains(server.Host.Logs.Entries, e => e.Level == LogLevel.Warning
            && e.Message.Contains("were not applied", StringComparison.Ordinal)
            && e.Message.Contains("Mesh:Tls:CertificatePath", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Reload_NewCaFile_CallersCertifiedByTheOldCaAreRefusedOnNewConnections()
    {
        using var certificates = new MeshCertificates();
        using var next = new MeshCertificates("next-ca");
        var serverCertificate = certificates.Issue(TlsEchoServer.ServiceId, fileName: "server");
        await using var server = await TlsEchoServer.StartAsync(certificates, serverCertificate);
        var oldCaller = certificates.Issue("order-service").Certificate;
        using var before = server.CreateRawChannel(oldCaller);
        await SayAsync(before);

        // The mesh moves to a new CA: this service's CA file and its own certificate, issued by the new CA.
        var rotated = NextReload(server);
        var reissued = next.Issue(TlsEchoServer.ServiceId);
        File.WriteAllText(certificates.CaPath, next.Authority.ExportCertificatePem());
        File.Copy(reissued.CertificatePath, serverCertificate.CertificatePath, overwrite: true);
        File.Copy(reissued.KeyPath, serverCertificate.KeyPath, overwrite: true);
        Assert.True(await rotated.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
        using var oldAfter = server.CreateRawChannel(oldCaller);
        using var newAfter = server.CreateRawChannel(next.Issue("order-service").Certificate);

        var refused = await Assert.ThrowsAsync<RpcException>(() => SayAsync(oldAfter));
        await SayAsync(newAfter);

        TlsEchoServer.AssertHandshakeRefused(refused);
        Assert.Equal(2, server.Calls.Grpc);
    }

    [Fact]
    public async Task Reload_ChangeWithoutFileEvent_FoundByThePeriodicComparison()
    {
        using var certificates = new MeshCertificates();
        var first = certificates.Issue(TlsEchoServer.ServiceId, fileName: "server");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TlsEchoServer.StartAsync(certificates, first, configure: b => b.Services.AddSingleton<TimeProvider>(time));
        var source = server.Host.Services.GetRequiredService<TlsMaterialSource>();

        // Stop the watchers, as when events are lost; only the clock is left.
        foreach (var watcher in WatchersOf(source))
        {
            watcher.EnableRaisingEvents = false;
        }

        var second = certificates.Issue(TlsEchoServer.ServiceId, fileName: "server");
        var unchanged = source.Current.Certificate.Thumbprint;
        time.Advance(IdentityConstants.PollInterval);

        Assert.Equal(first.Thumbprint, unchanged);
        Assert.Equal(second.Thumbprint, source.Current.Certificate.Thumbprint);
    }

    private static List<FileSystemWatcher> WatchersOf(TlsMaterialSource source) =>
        (List<FileSystemWatcher>)typeof(TlsMaterialSource)
            .GetField("_watchers", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!
            .GetValue(source)!;

    private static Task<bool> NextReload(TlsEchoServer server, bool expected = true)
    {
        var source = server.Host.Services.GetRequiredService<TlsMaterialSource>();
        var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        source.Reloaded += rotated =>
        {
            if (rotated == expected)
            {
                done.TrySetResult(rotated);
            }
        };
        return done.Task;
    }

    private static async Task SayAsync(Grpc.Net.Client.GrpcChannel channel) =>
        await new Echo.EchoClient(channel).SayAsync(new EchoRequest { Text = "x" }, cancellationToken: TestContext.Current.CancellationToken);
}
