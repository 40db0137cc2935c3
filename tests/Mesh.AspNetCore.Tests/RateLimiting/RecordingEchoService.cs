using Grpc.Core;
using Mesh.AspNetCore.Tests.Protos;

namespace Mesh.AspNetCore.Tests.RateLimiting;

/// <summary>Counts how often each handler ran, so tests can tell a rejected request from one that reached its handler.</summary>
public sealed class HandlerCalls
{
    private int _grpc;
    private int _http;

    public int Grpc => Volatile.Read(ref _grpc);

    public int Http => Volatile.Read(ref _http);

    public void RecordGrpc() => Interlocked.Increment(ref _grpc);

    public void RecordHttp() => Interlocked.Increment(ref _http);
}

/// <summary>The Echo service, recording every handler invocation.</summary>
public sealed class RecordingEchoService(HandlerCalls calls) : Echo.EchoBase
{
    public override Task<EchoReply> Say(EchoRequest request, ServerCallContext context)
    {
        calls.RecordGrpc();
        return Task.FromResult(new EchoReply { Text = request.Text });
    }

    public override async Task ServerStream(EchoRequest request, IServerStreamWriter<EchoReply> responseStream, ServerCallContext context)
    {
        calls.RecordGrpc();
        for (var i = 0; i < Math.Max(1, request.Count); i++)
        {
            await responseStream.WriteAsync(new EchoReply { Text = request.Text }, context.CancellationToken);
        }
    }

    public override async Task<EchoReply> ClientStream(IAsyncStreamReader<EchoRequest> requestStream, ServerCallContext context)
    {
        calls.RecordGrpc();
        var count = 0;
        await foreach (var _ in requestStream.ReadAllAsync(context.CancellationToken))
        {
            count++;
        }

        return new EchoReply { Text = count.ToString(System.Globalization.CultureInfo.InvariantCulture) };
    }

    public override async Task Duplex(IAsyncStreamReader<EchoRequest> requestStream, IServerStreamWriter<EchoReply> responseStream, ServerCallContext context)
    {
        calls.RecordGrpc();
        await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
        {
            await responseStream.WriteAsync(new EchoReply { Text = request.Text }, context.CancellationToken);
        }
    }
}
