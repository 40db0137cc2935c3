using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Mesh.AspNetCore.Internal;

/// <summary>
/// Ends a request that the mesh answers without reading it (a rate-limit rejection, a caller that
/// <c>Mesh:Authorization</c> refuses) the way the client expects, and without a log line per request: an HTTP/2 stream
/// whose response completes before the client ended its request makes Kestrel reset it and log "the application
/// completed without reading the entire request body" at <c>Information</c>. So the response waits for the request's
/// end: nothing is read when it has already arrived, else the request is read and dropped, unparsed, up to
/// <see cref="MaxDiscardedBytes"/>.
/// </summary>
internal static class UnreadRequest
{
    /// <summary>At most this many bytes of an unread request are discarded while waiting for its end; a larger one is cut short.</summary>
    public const int MaxDiscardedBytes = 64 * 1024;

    /// <summary>
    /// Whether the client has already ended its request, so that the response may complete without reading it. Kestrel
    /// makes the request trailers available when the end of the request (HTTP/2 <c>END_STREAM</c>) has arrived, and logs
    /// nothing for a stream whose end arrived, read or not (the bytes nobody read go back to the connection's flow-control
    /// window): then nothing is read. Otherwise what has arrived is read and dropped, to see whether it ends there.
    /// </summary>
    public static bool HasEnded(HttpContext context)
    {
        if (RequestFeatures.Get<IHttpRequestTrailersFeature>(context.Features) is { Available: true })
        {
            return true;
        }

        var body = context.Request.BodyReader;
        if (!body.TryRead(out var result))
        {
            return false;
        }

        body.AdvanceTo(result.Buffer.End);
        return result.IsCompleted;
    }

    /// <summary>
    /// Completes the response written so far, so the client has its answer at once, then drops what it still sends
    /// until it ends or resets its request (a gRPC client does either once its call has ended).
    /// </summary>
    public static async Task AnswerThenDiscardAsync(HttpContext context)
    {
        try
        {
            await context.Response.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            return; // the client reset or abandoned the call
        }

        await DiscardAsync(context.Request.BodyReader).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads and drops the request body until its end, for at most <see cref="MaxDiscardedBytes"/>. Returns
    /// <see langword="false"/> when the client reset or abandoned the request: there is nobody left to answer.
    /// </summary>
    public static async Task<bool> DiscardAsync(PipeReader body)
    {
        long discarded = 0;
        try
        {
            while (discarded <= MaxDiscardedBytes)
            {
                var result = await body.ReadAsync().ConfigureAwait(false);
                discarded += result.Buffer.Length;
                body.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }

            return true;
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or BadHttpRequestException)
        {
            return false;
        }
    }
}
