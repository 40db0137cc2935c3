using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Grpc.Net.Client;
using Mesh.AspNetCore.Tests.Infrastructure;
using Mesh.AspNetCore.Tests.Protos;
using Mesh.AspNetCore.Tests.Resilience;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Configuration;

/// <summary>
/// <c>Mesh:ListenAddress</c> decides which interfaces the <c>Mesh:Port</c> endpoint answers on, checked with real gRPC
/// calls to each address of this machine. The port is chosen before the start because the configuration names it.
/// </summary>
public sealed class ListenAddressTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Port_ListenAddressStar_AnswersOnLoopbackAndOnEveryOtherAddress()
    {
        await using var server = await StartAsync("\"*\"");

        foreach (var address in LoopbackAddresses().Concat(OtherAddresses()))
        {
            Assert.Equal(address.ToString(), await SayAsync(address, server.Port));
        }

        SkipWithoutOtherAddresses();
    }

    [Theory]
    [InlineData("\"localhost\"")]
    [InlineData(null)] // the default
    public async Task Port_ListenAddressLocalhost_AnswersOnLoopbackOnly(string? listenAddress)
    {
        await using var server = await StartAsync(listenAddress);

        foreach (var address in LoopbackAddresses())
        {
            Assert.Equal(address.ToString(), await SayAsync(address, server.Port));
        }

        foreach (var address in OtherAddresses())
        {
            using var tcp = new TcpClient(address.AddressFamily);
            var refused = await Assert.ThrowsAsync<SocketException>(() => tcp.ConnectAsync(address, server.Port, Ct).AsTask());
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        }

        SkipWithoutOtherAddresses();
    }

    [Fact]
    public async Task Port_ListenAddressIp_AnswersOnThatAddressOnly()
    {
        await using var server = await StartAsync("\"127.0.0.1\"");

        Assert.Equal("127.0.0.1", await SayAsync(IPAddress.Loopback, server.Port));
        foreach (var address in LoopbackAddresses().Concat(OtherAddresses()).Where(a => !a.Equals(IPAddress.Loopback)))
        {
            using var tcp = new TcpClient(address.AddressFamily);
            var refused = await Assert.ThrowsAsync<SocketException>(() => tcp.ConnectAsync(address, server.Port, Ct).AsTask());
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        }
    }

    [Fact]
    public async Task Port_ListenAddressIpv4Any_AnswersOnEveryIpv4AddressOnly()
    {
        await using var server = await StartAsync("\"0.0.0.0\"");

        foreach (var address in LoopbackAddresses().Concat(OtherAddresses()))
        {
            if (address.AddressFamily == AddressFamily.InterNetwork)
            {
                Assert.Equal(address.ToString(), await SayAsync(address, server.Port));
            }
            else
            {
                using var tcp = new TcpClient(address.AddressFamily);
                var refused = await Assert.ThrowsAsync<SocketException>(() => tcp.ConnectAsync(address, server.Port, Ct).AsTask());
                Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
            }
        }
    }

    private static Task<MeshTestHost> StartAsync(string? listenAddressJson)
    {
        var listenAddress = listenAddressJson is null ? string.Empty : $$""", "ListenAddress": {{listenAddressJson}}""";
        return FreePort.StartAsync(port => MeshTestHost.StartAsync(
            $$"""{ "Mesh": { "ServiceId": "inventory-service", "Port": {{port}}{{listenAddress}} } }""",
            b =>
            {
                b.Services.AddGrpc();
                b.Services.AddSingleton(new EchoScript());
                b.Services.AddSecureMesh();
            },
            app => app.MapGrpcService<ScriptedEcho>(),
            listen: false));
    }

    /// <summary>A gRPC call to <paramref name="address"/>; returns the echoed address.</summary>
    private static async Task<string> SayAsync(IPAddress address, int port)
    {
        var host = address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
        using var channel = GrpcChannel.ForAddress($"http://{host}:{port}");
        var reply = await new Echo.EchoClient(channel).SayAsync(new EchoRequest { Text = address.ToString() }, cancellationToken: Ct);
        return reply.Text;
    }

    private static IPAddress[] LoopbackAddresses() =>
        [IPAddress.Loopback, .. Addresses(loopback: true).Where(a => a.Equals(IPAddress.IPv6Loopback))];

    /// <summary>This machine's addresses other than loopback (link-local IPv6 addresses left out: they need a scope).</summary>
    private static IPAddress[] OtherAddresses() => [.. Addresses(loopback: false).Where(a => !IPAddress.IsLoopback(a) && !a.IsIPv6LinkLocal)];

    private static IEnumerable<IPAddress> Addresses(bool loopback) =>
        NetworkInterface.GetAllNetworkInterfaces()
            .Where(i => i.OperationalStatus is OperationalStatus.Up or OperationalStatus.Unknown)
            .Where(i => (i.NetworkInterfaceType == NetworkInterfaceType.Loopback) == loopback)
            .SelectMany(i => i.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .Where(a => a.AddressFamily is AddressFamily.InterNetwork || (a.AddressFamily is AddressFamily.InterNetworkV6 && Socket.OSSupportsIPv6));

    private static void SkipWithoutOtherAddresses()
    {
        if (OtherAddresses().Length == 0)
        {
            Assert.Skip("Loopback answered as expected; this machine has no other address to check the rest of the rule on.");
        }
    }
}
