using System.Net;
using System.Net.Sockets;

namespace Mesh.AspNetCore.Tests.Infrastructure;

/// <summary>
/// A port on 127.0.0.1 that refuses every connection for as long as this object lives: a socket is bound to it but never
/// listens, so connecting gets a reset at once, and no other process can bind the port meanwhile (unlike a port that
/// was free a moment ago, which another process may take before the test uses it).
/// </summary>
public sealed class RefusedPort : IDisposable
{
    private readonly Socket _socket;

    public RefusedPort()
    {
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ExclusiveAddressUse = true };
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Port = ((IPEndPoint)_socket.LocalEndPoint!).Port;
    }

    public int Port { get; }

    public void Dispose() => _socket.Dispose();
}
