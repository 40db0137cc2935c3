using System.Net;
using System.Net.Sockets;

namespace Mesh.AspNetCore.Tests.Infrastructure;

/// <summary>
/// A port on 127.0.0.1 that refuses every connection for as long as this object lives: a socket is bound to it but never
/// listens, so a connection attempt is refused at once. While the port is bound, the kernel gives it to no other socket
/// that asks for any free port (a server binding port 0, the local end of an outgoing connection), whereas a port that
/// was merely free a moment ago (<see cref="FreePort"/>) may be taken by another process before the test uses it.
/// </summary>
public sealed class RefusedPort : IDisposable
{
    private readonly Socket _socket;

    public RefusedPort()
    {
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Port = ((IPEndPoint)_socket.LocalEndPoint!).Port;
    }

    public int Port { get; }

    public void Dispose() => _socket.Dispose();
}
