using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Resilience.Internal;

internal sealed partial class ResilienceInterceptor
{
    /// <summary>
    /// A failed attempt that the mesh retries: one line, without the exception. The status says what failed; the stack
    /// trace of an <see cref="RpcException"/> only shows where grpc-dotnet turned the status into an exception.
    /// </summary>
    [LoggerMessage(EventId = 3201, EventName = "CallAttemptFailed", Level = LogLevel.Warning,
        Message = "Attempt {Attempt} of {Method} to service '{ServiceId}' failed with status {Status} ({Detail}); retrying in {DelayMs} ms.")]
    private static partial void WriteAttemptFailed(ILogger logger, int attempt, string method, string serviceId, StatusCode status, string detail, long delayMs);

    /// <summary>The end of a failed call, all its attempts included: once per call.</summary>
    [LoggerMessage(EventId = 3202, EventName = "CallFailed",
        Message = "{Method} to service '{ServiceId}' failed with status {Status} ({Detail}) after {Attempts} attempt(s).")]
    private static partial void WriteCallFailed(ILogger logger, LogLevel level, string method, string serviceId, StatusCode status, string detail, int attempts, Exception? exception);

    internal static void LogAttemptFailed(ILogger logger, int attempt, string method, string serviceId, StatusCode status, string? detail, TimeSpan delay) =>
        WriteAttemptFailed(logger, attempt, method, serviceId, status, DetailOf(detail), (long)delay.TotalMilliseconds);

    private static void LogCallFailed(ILogger logger, LogLevel level, string method, string serviceId, StatusCode status, string? detail, int attempts, Exception? exception = null) =>
        WriteCallFailed(logger, level, method, serviceId, status, DetailOf(detail), attempts, exception);

    private static string DetailOf(string? detail) => string.IsNullOrEmpty(detail) ? "no detail" : detail;
}
