using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>
/// Answers a request the inbound rate limiter rejected, without reading its body and without throwing: a gRPC call gets
/// a trailers-only response (HTTP 200, <c>grpc-status: 8</c>, no message), an HTTP request a <c>429</c> with a
/// problem-details body. The texts of one retry-after value are built once and shared by the rejections that follow, so
/// a flood of rejections allocates next to nothing.
/// </summary>
internal sealed class RateLimitRejectionWriter(IServiceProvider services)
{
    public const string ProblemJsonContentType = "application/problem+json";
    public const string TooManyRequestsTitle = "Too Many Requests";
    public const string TooManyRequestsType = "https://tools.ietf.org/html/rfc6585#section-4";
    public const string RetryAfterSecondsExtension = "retryAfterSeconds";

    private static readonly StringValues s_resourceExhausted = ((int)Grpc.Core.StatusCode.ResourceExhausted).ToString(CultureInfo.InvariantCulture);
    private static readonly StringValues s_grpcContentType = "application/grpc";
    private static readonly StringValues s_rateLimitRejection = RateLimitConstants.RateLimitRejection;
    private static readonly StringValues s_problemJson = ProblemJsonContentType;

    private readonly IProblemDetailsService? _problemDetails = services.GetService<IProblemDetailsService>();
    private SecondsTexts? _seconds;
    private MillisecondsText? _milliseconds;

    /// <summary>
    /// Ends a gRPC call with <c>RESOURCE_EXHAUSTED</c> as a trailers-only response: status, message, <c>retry-after</c>,
    /// <c>grpc-retry-pushback-ms</c> and <c>x-mesh-rejected</c> in the response headers, and no body. The response is
    /// complete when the caller returns without writing.
    /// </summary>
    public void WriteGrpc(HttpContext context, TimeSpan retryAfter)
    {
        var texts = SecondsFor(retryAfter);
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        var headers = response.Headers;

        // Known headers through their properties, and the gRPC names as the instances of HeaderNames, which Kestrel
        // keeps in its set of interned names: each name is then found without a comparison of its characters.
        headers.ContentType = s_grpcContentType;
        headers[HeaderNames.GrpcStatus] = s_resourceExhausted;
        headers[HeaderNames.GrpcMessage] = texts.GrpcMessage;
        headers.RetryAfter = texts.RetryAfter;
        headers[RateLimitConstants.RetryPushbackTrailer] = MillisecondsFor(retryAfter);
        headers[RateLimitConstants.RejectedByHeader] = s_rateLimitRejection;
    }

    /// <summary>
    /// Answers an HTTP request with <c>429 Too Many Requests</c>, <c>Retry-After</c>, <c>x-mesh-rejected</c> and a
    /// problem-details body: through the application's <see cref="IProblemDetailsService"/> when it registered one (so
    /// its customisations apply), else a small <c>application/problem+json</c> body of our own.
    /// </summary>
    public Task WriteHttpAsync(HttpContext context, TimeSpan retryAfter)
    {
        var texts = SecondsFor(retryAfter);
        var response = context.Response;
        response.StatusCode = StatusCodes.Status429TooManyRequests;
        response.Headers.RetryAfter = texts.RetryAfter;
        response.Headers[RateLimitConstants.RejectedByHeader] = s_rateLimitRejection;
        return _problemDetails is null ? WriteBodyAsync(response, texts.ProblemBody) : WriteProblemDetailsAsync(context, _problemDetails, texts);
    }

    private static async Task WriteProblemDetailsAsync(HttpContext context, IProblemDetailsService service, SecondsTexts texts)
    {
        var problem = new ProblemDetails
        {
            Status = StatusCodes.Status429TooManyRequests,
            Title = TooManyRequestsTitle,
            Type = TooManyRequestsType,
            Detail = texts.Detail,
            Extensions = { [RetryAfterSecondsExtension] = texts.Value },
        };
        if (!await service.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem }).ConfigureAwait(false))
        {
            await WriteBodyAsync(context.Response, texts.ProblemBody).ConfigureAwait(false);
        }
    }

    private static Task WriteBodyAsync(HttpResponse response, byte[] body)
    {
        // Written without a flush: the server sends headers and body together when the request ends.
        response.Headers.ContentType = s_problemJson;
        response.ContentLength = body.Length;
        response.BodyWriter.Write(body);
        return Task.CompletedTask;
    }

    private SecondsTexts SecondsFor(TimeSpan retryAfter)
    {
        var seconds = InboundRateLimitGate.ToRetryAfterSeconds(retryAfter);
        var texts = Volatile.Read(ref _seconds);
        if (texts is null || texts.Value != seconds)
        {
            texts = new SecondsTexts(seconds);
            Volatile.Write(ref _seconds, texts);
        }

        return texts;
    }

    private StringValues MillisecondsFor(TimeSpan retryAfter)
    {
        var milliseconds = InboundRateLimitGate.ToPushbackMilliseconds(retryAfter);
        var text = Volatile.Read(ref _milliseconds);
        if (text is null || text.Value != milliseconds)
        {
            text = new MillisecondsText(milliseconds, milliseconds.ToString(CultureInfo.InvariantCulture));
            Volatile.Write(ref _milliseconds, text);
        }

        return text.Text;
    }

    /// <summary>
    /// Encodes a <c>grpc-message</c> value as the gRPC HTTP/2 protocol requires: printable ASCII except <c>%</c> as is,
    /// every other byte of its UTF-8 form as <c>%XX</c>.
    /// </summary>
    internal static string PercentEncode(string message)
    {
        var plain = true;
        foreach (var c in message)
        {
            if (c is < ' ' or > '~' or '%')
            {
                plain = false;
                break;
            }
        }

        if (plain)
        {
            return message;
        }

        var builder = new StringBuilder(message.Length * 3);
        foreach (var b in Encoding.UTF8.GetBytes(message))
        {
            if (b is < (byte)' ' or > (byte)'~' or (byte)'%')
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append((char)b);
            }
        }

        return builder.ToString();
    }

    /// <summary>Everything of a rejection that depends on its whole seconds only.</summary>
    private sealed class SecondsTexts
    {
        public SecondsTexts(long seconds)
        {
            Value = seconds;
            RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            Detail = InboundRateLimitGate.RejectionMessage(seconds);
            GrpcMessage = PercentEncode(Detail);

            var body = new ArrayBufferWriter<byte>(256);
            using (var json = new Utf8JsonWriter(body))
            {
                json.WriteStartObject();
                json.WriteString("type", TooManyRequestsType);
                json.WriteString("title", TooManyRequestsTitle);
                json.WriteNumber("status", StatusCodes.Status429TooManyRequests);
                json.WriteString("detail", Detail);
                json.WriteNumber(RetryAfterSecondsExtension, seconds);
                json.WriteEndObject();
            }

            ProblemBody = body.WrittenSpan.ToArray();
        }

        public long Value { get; }

        public StringValues RetryAfter { get; }

        public string Detail { get; }

        public StringValues GrpcMessage { get; }

        public byte[] ProblemBody { get; }
    }

    private sealed record MillisecondsText(long Value, StringValues Text);
}
