using System.Net.Http;
using Grpc.Core;

namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>
/// Recognises an attempt that ended because the server closed the connection or the stream with HTTP/2's
/// <c>NO_ERROR</c> before answering: what a replica shutting down (a rolling restart, a scale-down) does to a request
/// it had accepted. grpc-dotnet reports it as <see cref="StatusCode.Internal"/> (its mapping of a <c>NO_ERROR</c> reset);
/// gRPC's protocol treats a server going away as <see cref="StatusCode.Unavailable"/>, so the retry does too. It is not
/// proof that no handler ran: with <c>OnlyIdempotent</c> such a request is still retried only for idempotent methods.
/// </summary>
internal static class ServerGoingAway
{
    /// <summary>How deep the chain of inner exceptions is searched.</summary>
    private const int MaxDepth = 8;

    private const long Http2NoError = 0;

    public static bool Is(RpcException failure)
    {
        if (failure.StatusCode != StatusCode.Internal)
        {
            return false;
        }

        var exception = failure.Status.DebugException;
        for (var depth = 0; exception is not null && depth < MaxDepth; depth++, exception = exception.InnerException)
        {
            if (exception is HttpProtocolException protocol)
            {
                return protocol.ErrorCode == Http2NoError;
            }
        }

        return false;
    }
}
