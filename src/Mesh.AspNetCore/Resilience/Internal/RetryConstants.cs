using Grpc.Core;

namespace Mesh.AspNetCore.Resilience.Internal;

internal static class RetryConstants
{
    public const int DefaultMaxAttempts = 3;
    public const int MaxMaxAttempts = 100;
    public const int DefaultInitialDelayMs = 1_000;
    public const int DefaultMaxDelayMs = 30_000;
    public const int MaxDelayMs = 86_400_000;

    public static readonly IReadOnlyList<StatusCode> DefaultRetryableStatusCodes =
        [StatusCode.Unavailable, StatusCode.ResourceExhausted, StatusCode.Aborted];
}
