using Grpc.Core;

namespace Mesh.AspNetCore.Resilience.Internal;

internal static class CircuitBreakerConstants
{
    public const int DefaultFailureThreshold = 5;
    public const int DefaultSuccessThreshold = 2;
    public const int MaxThreshold = 10_000;
    public const int DefaultTimeoutMs = 60_000;
    public const int MaxTimeoutMs = 86_400_000;

    public static readonly IReadOnlyList<StatusCode> DefaultFailureStatusCodes =
        [StatusCode.Unavailable, StatusCode.DeadlineExceeded, StatusCode.Internal, StatusCode.Unknown, StatusCode.DataLoss];
}
