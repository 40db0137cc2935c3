using System.Net.Http;
using System.Net.Sockets;
using Grpc.Core;
using Mesh.AspNetCore.RateLimiting.Internal;

namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>
/// Recognises a failed attempt whose request provably never reached a handler of the called service, so that retrying
/// it cannot repeat a side effect: the connection failed before the request was sent, or the service's mesh rate
/// limiter, which runs before any handler, rejected it.
/// </summary>
internal static class UnhandledRequest
{
    public static bool IsProven(RpcException failure) => failure.StatusCode switch
    {
        StatusCode.Unavailable => IsConnectFailure(failure.Status.DebugException),
        StatusCode.ResourceExhausted => IsMeshRateLimitRejection(failure.Trailers),
        _ => false,
    };

    /// <summary>
    /// A connect failure as grpc-dotnet reports it: without load balancing, the <see cref="HttpRequestException"/> of a
    /// connection that could not be established (refused, unreachable, name not resolved, TLS handshake failed); with
    /// load balancing, the <see cref="SocketException"/> of the subchannel that could not connect ("Error connecting to
    /// subchannel.", the call never left the client). A failure on an established connection is neither.
    /// </summary>
    private static bool IsConnectFailure(Exception? exception)
    {
        if (exception is SocketException socket)
        {
            return IsConnectError(socket.SocketErrorCode);
        }

        return ExceptionChain.Find<HttpRequestException>(exception)?.HttpRequestError is HttpRequestError.ConnectionError
            or HttpRequestError.NameResolutionError
            or HttpRequestError.SecureConnectionError;
    }

    private static bool IsConnectError(SocketError error) => error is SocketError.ConnectionRefused
        or SocketError.HostUnreachable
        or SocketError.NetworkUnreachable
        or SocketError.HostDown
        or SocketError.HostNotFound
        or SocketError.TryAgain
        or SocketError.NoData
        or SocketError.AddressNotAvailable;

    private static bool IsMeshRateLimitRejection(Metadata? trailers) =>
        trailers?.GetValue(RateLimitConstants.RejectedByHeader) is { } rejectedBy
        && string.Equals(rejectedBy, RateLimitConstants.RateLimitRejection, StringComparison.Ordinal);
}
