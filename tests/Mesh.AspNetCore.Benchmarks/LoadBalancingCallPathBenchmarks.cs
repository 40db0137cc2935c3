using System.Net;
using System.Net.Http.Headers;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using Mesh.AspNetCore.Benchmarks.Protos;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// The client's whole per-call path through client-side load balancing, in-process: the same four clients as
/// <see cref="LoadBalancingBenchmarks"/> (the mesh client over one endpoint as baseline and over three; a plain
/// grpc-dotnet channel with its own <c>round_robin</c> over one and three), but the HTTP request ends in a handler that
/// answers with a ready gRPC reply instead of crossing the network. Everything above it runs as in a real call: the
/// interceptors and the resilience pipeline, grpc-dotnet's call and its balancer, which picks a connected subchannel
/// (each endpoint is a real Kestrel server the subchannel connected to), and the mesh's outcome handler, which records
/// the attempt against the picked endpoint. What the number of endpoints changes is all here, without the loopback
/// round trip whose noise hides it in <see cref="LoadBalancingBenchmarks"/>. Goal: mesh over three &lt;= 1.02x mesh
/// over one, with the same allocations.
/// </summary>
[MemoryDiagnoser]
public class LoadBalancingCallPathBenchmarks : LoadBalancingBenchmarks
{
    // The answering handler goes below the mesh's own handlers (after AddClient's), above the sockets handler.
    protected override void ConfigureMeshClient(IServiceCollection services) =>
        services.AddHttpClient(nameof(Bench.BenchClient)).AddHttpMessageHandler(static () => new InProcessAnswer());

    protected override HttpMessageHandler CreatePlainHandler() =>
        new InProcessAnswer { InnerHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true } };

    /// <summary>Answers every gRPC request with the server's <c>Ping</c> reply and status OK, without sending it anywhere.</summary>
    private sealed class InProcessAnswer : DelegatingHandler
    {
        private static readonly byte[] ReplyFrame = Frame(new PingReply { Text = "ping" });
        private static readonly MediaTypeHeaderValue GrpcContentType = new("application/grpc");

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            // The request message is serialised as it would be on its way to the network.
            await request.Content!.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
            var content = new ByteArrayContent(ReplyFrame);
            content.Headers.ContentType = GrpcContentType;
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Version = HttpVersion.Version20, Content = content, RequestMessage = request };
            response.TrailingHeaders.Add("grpc-status", "0");
            return response;
        }

        private static byte[] Frame(IMessage message)
        {
            var body = message.ToByteArray();
            var frame = new byte[5 + body.Length];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)body.Length);
            body.CopyTo(frame, 5);
            return frame;
        }
    }
}
