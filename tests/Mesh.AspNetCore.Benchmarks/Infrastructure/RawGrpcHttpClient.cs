using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;

namespace Mesh.AspNetCore.Benchmarks.Infrastructure;

/// <summary>
/// Sends a unary gRPC request as plain HTTP/2 frames and reads the whole response, returning its <c>grpc-status</c>.
/// Unlike a gRPC client it throws nothing for an error status, so that an admitted and a rejected call compare the
/// server's work rather than the client's exception handling.
/// </summary>
internal sealed class RawGrpcHttpClient : IDisposable
{
    private static readonly MediaTypeHeaderValue s_grpcContentType = new("application/grpc");
    private readonly HttpClient _client;
    private readonly Uri _uri;
    private readonly byte[] _frame;

    public RawGrpcHttpClient(Uri address, string path, IMessage request)
    {
        _client = new HttpClient(new SocketsHttpHandler());
        _uri = new Uri(address, path);
        var payload = request.ToByteArray();
        _frame = new byte[5 + payload.Length];
        BinaryPrimitives.WriteInt32BigEndian(_frame.AsSpan(1), payload.Length);
        payload.CopyTo(_frame, 5);
    }

    public async Task<int> CallAsync()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _uri) {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(_frame),
        };
        request.Content.Headers.ContentType = s_grpcContentType;
        request.Headers.TE.ParseAdd("trailers");
        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await (await response.Content.ReadAsStreamAsync()).CopyToAsync(Stream.Null);
        var status = response.TrailingHeaders.TryGetValues("grpc-status", out var values) || response.Headers.TryGetValues("grpc-status", out values)
            ? values.First()
            : throw new InvalidOperationException($"The response has no grpc-status (HTTP {(int)response.StatusCode}).");
        return int.Parse(status, CultureInfo.InvariantCulture);
    }

    public void Dispose() => _client.Dispose();
}
