using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace Mesh.AspNetCore.Tests.Infrastructure;

public static class FreePort
{
    /// <summary>A TCP port on 127.0.0.1 that nothing listens on at the moment of the call.</summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// Starts a server on a port that its configuration must name before it starts (<c>Mesh:Port</c>), choosing another
    /// free port when another process took the chosen one between the choice and the start. Servers that need no port
    /// in their configuration bind port 0 instead.
    /// </summary>
    public static async Task<T> StartAsync<T>(Func<int, Task<T>> start)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await start(Next());
            }
            catch (IOException ex) when (attempt < 5 && ex.InnerException is AddressInUseException)
            {
                // Taken meanwhile: try another.
            }
        }
    }
}
