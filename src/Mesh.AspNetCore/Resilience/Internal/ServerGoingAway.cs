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
    private const long Http2NoError = 0;

    public static bool Is(RpcException failure) =>
        failure.StatusCode == StatusCode.Internal
        && ExceptionChain.Find<HttpProtocolException>(failure.Status.DebugException) is { ErrorCode: Http2NoError };
}
