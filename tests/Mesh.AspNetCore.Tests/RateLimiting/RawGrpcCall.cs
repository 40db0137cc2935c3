using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;

namespace Mesh.AspNetCore.Tests.RateLimiting;

/// <summary>
/// A unary gRPC call sent as a plain HTTP/2 request, so that a test sees the response exactly as it came over the wire
/// (status, headers, body, trailers) and no gRPC client throws anything.
/// </summary>
public sealed record RawGrpcCall(HttpResponseMessage Response, byte[] Body)
{
    /// <summary>Sends <paramref name="message"/> to <paramref name="path"/> (<c>/package.Service/Method</c>) and reads the whole response.</summary>
    public static async Task<RawGrpcCall> SendAsync(HttpClient http, string path, IMessage message, string? serviceId = null)
    {
        var payload = message.ToByteArray();
        var frame = new byte[5 + payload.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), payload.Length);
        payload.CopyTo(frame, 5);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(frame),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TE.ParseAdd("trailers");
        if (serviceId is not null)
        {
            request.Headers.Add(RateLimitedService.ServiceIdHeader, serviceId);
        }

        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken);
        return new RawGrpcCall(response, body);
    }

    /// <summary>The first value of a response header, or null.</summary>
    public string? Header(string name) =>
        Response.Headers.TryGetValues(name, out var values) || Response.Content.Headers.TryGetValues(name, out values) ? values.First() : null;

    /// <summary>The call's <c>grpc-status</c>, from the trailers or, in a trailers-only response, the headers.</summary>
    public string? GrpcStatus =>
        Response.TrailingHeaders.TryGetValues("grpc-status", out var values) ? values.First() : Header("grpc-status");
}
