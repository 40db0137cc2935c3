using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Mesh.AspNetCore.Telemetry.Internal;

/// <summary>The request handlers of the dashboard: the page, and its feed as one JSON snapshot or as server-sent events.</summary>
internal sealed class DashboardEndpoints(DashboardFeed feed, TimeProvider timeProvider, IHostApplicationLifetime lifetime)
{
    private static readonly byte[] s_retry = System.Text.Encoding.ASCII.GetBytes(
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"retry: {DashboardConstants.ReconnectDelayMs}\n\n"));
    private static readonly byte[] s_dataPrefix = "data: "u8.ToArray();
    private static readonly byte[] s_eventEnd = "\n\n"u8.ToArray();

    private int _streams;

    public Task ServePageAsync(HttpContext context)
    {
        var page = DashboardPage.Instance;
        var response = context.Response;
        response.ContentType = "text/html; charset=utf-8";
        response.ContentLength = page.Content.Length;
        SetCommonHeaders(response);
        response.Headers.ContentSecurityPolicy = page.ContentSecurityPolicy;
        response.Headers.XFrameOptions = "DENY";
        response.Headers["Referrer-Policy"] = "no-referrer";
        return response.Body.WriteAsync(page.Content, context.RequestAborted).AsTask();
    }

    public Task ServeFeedAsync(HttpContext context) =>
        AcceptsEventStream(context.Request.Headers.Accept) ? StreamAsync(context) : WriteSnapshotAsync(context);

    private async Task WriteSnapshotAsync(HttpContext context)
    {
        var response = context.Response;
        response.ContentType = "application/json; charset=utf-8";
        SetCommonHeaders(response);
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        feed.Write(buffer);
        response.ContentLength = buffer.WrittenCount;
        await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
    }

    private async Task StreamAsync(HttpContext context)
    {
        var response = context.Response;
        if (Interlocked.Increment(ref _streams) > DashboardConstants.MaxConcurrentStreams)
        {
            Interlocked.Decrement(ref _streams);
            response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            response.Headers.RetryAfter = "5";
            return;
        }

        try
        {
            response.ContentType = "text/event-stream";
            SetCommonHeaders(response);
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
            var body = response.BodyWriter;
            var sentLatency = new Dictionary<string, long>(StringComparer.Ordinal);
            var buffer = new ArrayBufferWriter<byte>(16 * 1024);
            body.Write(s_retry);
            while (!stop.IsCancellationRequested)
            {
                // One JSON document per event: the writer escapes line breaks inside strings, so it is a single line.
                buffer.ResetWrittenCount();
                feed.Write(buffer, sentLatency);
                body.Write(s_dataPrefix);
                body.Write(buffer.WrittenSpan);
                body.Write(s_eventEnd);
                var flushed = await body.FlushAsync(stop.Token).ConfigureAwait(false);
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    break;
                }

                await Task.Delay(DashboardConstants.PushInterval, timeProvider, stop.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // The viewer left or the application is stopping: the stream just ends.
        }
        finally
        {
            Interlocked.Decrement(ref _streams);
        }
    }

    private static void SetCommonHeaders(HttpResponse response)
    {
        response.Headers.CacheControl = "no-store";
        response.Headers.XContentTypeOptions = "nosniff";
    }

    private static bool AcceptsEventStream(StringValues accept)
    {
        if (MediaTypeHeaderValue.TryParseList(accept, out var types))
        {
            foreach (var type in types)
            {
                if (type.MediaType.Equals("text/event-stream", StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }
}
