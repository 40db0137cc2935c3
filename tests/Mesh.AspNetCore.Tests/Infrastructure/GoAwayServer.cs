using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Mesh.AspNetCore.Tests.Infrastructure;

/// <summary>
/// A minimal HTTP/2 server on 127.0.0.1 that behaves like a replica shutting down in the middle of a request: it accepts
/// each connection (preface and SETTINGS), and on the first request of the connection answers with
/// <c>GOAWAY(last stream = that request, NO_ERROR)</c> and closes the connection without a response. The request was
/// accepted, so the client cannot tell whether a handler ran.
/// </summary>
public sealed class GoAwayServer : IAsyncDisposable
{
    private const byte HeadersFrame = 0x1;
    private const byte SettingsFrame = 0x4;
    private const byte GoAwayFrame = 0x7;
    private const byte AckFlag = 0x1;
    private const int PrefaceLength = 24;
    private const int MaxFramePayload = 1 << 20;

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stopped = new();
    private readonly Task _accepting;
    private int _requests;

    public GoAwayServer()
    {
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
    }

    public int Port { get; }

    /// <summary>How many requests (HEADERS frames) the server received and answered with GOAWAY.</summary>
    public int Requests => Volatile.Read(ref _requests);

    private async Task AcceptAsync()
    {
        var connections = new List<Task>();
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stopped.Token);
                connections.Add(ServeAsync(client));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        catch (InvalidOperationException) when (_stopped.IsCancellationRequested)
        {
            // Stopped between two accepts: the listener refuses the next accept instead of cancelling it.
        }

        await Task.WhenAll(connections);
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        try
        {
            var stream = client.GetStream();
            var preface = new byte[PrefaceLength];
            await stream.ReadExactlyAsync(preface, _stopped.Token);
            await WriteFrameAsync(stream, SettingsFrame, 0, 0, []);
            var header = new byte[9];
            while (true)
            {
                await stream.ReadExactlyAsync(header, _stopped.Token);
                var length = (header[0] << 16) | (header[1] << 8) | header[2];
                if (length > MaxFramePayload)
                {
                    return;
                }

                var type = header[3];
                var flags = header[4];
                var streamId = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & int.MaxValue;
                await stream.ReadExactlyAsync(new byte[length], _stopped.Token);
                if (type == SettingsFrame && (flags & AckFlag) == 0)
                {
                    await WriteFrameAsync(stream, SettingsFrame, AckFlag, 0, []);
                }
                else if (type == HeadersFrame)
                {
                    Interlocked.Increment(ref _requests);
                    var payload = new byte[8];
                    BinaryPrimitives.WriteInt32BigEndian(payload, streamId); // last stream id: this request was accepted
                    BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(4), 0); // NO_ERROR
                    await WriteFrameAsync(stream, GoAwayFrame, 0, 0, payload);
                    client.Client.Shutdown(SocketShutdown.Send);
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or EndOfStreamException)
        {
        }
    }

    private async Task WriteFrameAsync(NetworkStream stream, byte type, byte flags, int streamId, byte[] payload)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), streamId);
        payload.CopyTo(frame, 9);
        await stream.WriteAsync(frame, _stopped.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopped.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stopped.Dispose();
    }
}
