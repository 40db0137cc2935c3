using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;

namespace Mesh.AspNetCore.Internal;

/// <summary>
/// Ends a request that the mesh answers without reading it (a rate-limit rejection, a caller that
/// <c>Mesh:Authorization</c> refuses) the way the client expects, and without a log line per request: an HTTP/2 stream
/// whose response completes before the client ended its request makes Kestrel reset it and log "the application
/// completed without reading the entire request body" at <c>Information</c>. So the request's end is read and dropped,
/// unparsed, up to <see cref="MaxDiscardedBytes"/>.
/// </summary>
internal static class UnreadRequest
{
    /// <summary>At most this many bytes of an unread request are discarded while waiting for its end; a larger one is cut short.</summary>
    public const int MaxDiscardedBytes = 64 * 1024;

    /// <summary>Whether the client has already ended its request; what it sent so far is dropped.</summary>
    public static bool HasEnded(PipeReader body)
    {
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
