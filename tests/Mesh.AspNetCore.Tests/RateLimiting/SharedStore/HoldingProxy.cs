using System.Net;
using System.Net.Sockets;

namespace Mesh.AspNetCore.Tests.RateLimiting.SharedStore;

/// <summary>
/// A TCP proxy on a free loopback port in front of the store. <see cref="HoldAnswers"/> keeps the store's answers from
/// reaching the client (they wait in the proxy, in order) until <see cref="ReleaseAnswers"/>: a store that is slow to
/// answer, for as long as a test decides.
/// </summary>
public sealed class HoldingProxy : IDisposable
{
    private readonly TcpListener _listener;
    private readonly int _storePort;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _connections = [];
    private readonly Lock _lock = new();
    private TaskCompletionSource _released = NewReleased(released: true);

    private HoldingProxy(TcpListener listener, int storePort)
    {
        _listener = listener;
        _storePort = storePort;
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public string Configuration => $"127.0.0.1:{Port}";

    public static HoldingProxy Start(int storePort)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var proxy = new HoldingProxy(listener, storePort);
        _ = proxy.AcceptAsync();
        return proxy;
    }

    /// <summary>From now on, answers of the store wait in the proxy.</summary>
    public void HoldAnswers()
    {
        lock (_lock)
        {
            if (_released.Task.IsCompleted)
            {
                _released = NewReleased(released: false);
            }
        }
    }

    /// <summary>Sends the held answers on, and every answer from now on.</summary>
    public void ReleaseAnswers()
    {
        lock (_lock)
        {
            _released.TrySetResult();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        ReleaseAnswers();
        lock (_lock)
        {
            _connections.ForEach(c => c.Dispose());
        }

        _stop.Dispose();
    }

    private static TaskCompletionSource NewReleased(bool released)
    {
        var source = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (released)
        {
            source.SetResult();
        }

        return source;
    }

    private Task Released()
    {
        lock (_lock)
        {
            return _released.Task;
        }
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                var store = new TcpClient();
                await store.ConnectAsync(IPAddress.Loopback, _storePort, _stop.Token);
                lock (_lock)
                {
                    _connections.Add(client);
                    _connections.Add(store);
                }

                _ = PumpAsync(client.GetStream(), store.GetStream(), hold: false);
                _ = PumpAsync(store.GetStream(), client.GetStream(), hold: true);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
        catch (InvalidOperationException) when (_stop.IsCancellationRequested)
        {
            // Stopped between two accepts: the listener refuses the next accept instead of cancelling it.
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, bool hold)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReadAsync(buffer, _stop.Token);
                if (read == 0)
                {
                    break;
                }

                if (hold)
                {
                    await Released();
                }

                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // A side closed, or the proxy stopped.
        }
        finally
        {
            try
            {
                to.Socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // Already closed.
            }
        }
    }
}
