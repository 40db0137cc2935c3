namespace Mesh.AspNetCore.RateLimiting.Internal;

internal static class RateLimitConstants
{
    public const int DefaultWindowMs = 60_000;
    public const int MaxWindowMs = 86_400_000;

    /// <summary>The request header in which mesh clients send their <c>ServiceId</c>.</summary>
    public const string ServiceIdHeader = "x-mesh-service-id";

    /// <summary>A longer <c>x-mesh-service-id</c> is ignored, so that a client cannot make the limiter keep huge keys.</summary>
    public const int MaxServiceIdLength = 256;

    /// <summary>
    /// How far the coarse clock (<see cref="Environment.TickCount64"/>) may fall behind the precise one over a window: a
    /// tick of up to 16 ms each at the window's start and at the request, and the milliseconds cut off. A request that
    /// finds its window younger than <c>WindowMs</c> minus this and minus <c>WindowMs</c> /
    /// <see cref="CoarseClockDriftDivisor"/> by the coarse clock counts without the precise clock.
    /// </summary>
    public const int CoarseClockSlackMs = 50;

    /// <summary>
    /// The share of a window allowed for the two clocks running at different rates (where they come from different
    /// sources): about a thousandth, 84 s of a day-long window.
    /// </summary>
    public const int CoarseClockDriftDivisor = 1_024;

    /// <summary>How often partitions whose window has ended are dropped.</summary>
    public const int SweepIntervalMs = 10_000;

    /// <summary>
    /// A partition table that grew to at least this many partitions is replaced by a small one when a sweep leaves fewer
    /// than a quarter of them: the memory a flood of callers took is given back. Smaller tables are kept as they are.
    /// </summary>
    public const int PartitionTableShrinkMinimum = 1_024;

    /// <summary>Methods of the standard gRPC health service start with this and are never limited.</summary>
    public const string HealthServicePrefix = "/grpc.health.v1.Health/";

    /// <summary>gRPC trailer with the exact milliseconds to wait, honoured by gRPC retry policies.</summary>
    public const string RetryPushbackTrailer = "grpc-retry-pushback-ms";

    /// <summary>
    /// Response header (gRPC: in the trailers-only response's headers) that marks a request the mesh refused before any
    /// handler ran; its value says which part of the mesh refused it.
    /// </summary>
    public const string RejectedByHeader = "x-mesh-rejected";

    /// <summary>The <see cref="RejectedByHeader"/> value of a rejection by the inbound rate limiter.</summary>
    public const string RateLimitRejection = "rate-limit";

    /// <summary>The service name of the standard gRPC health service, which is never limited.</summary>
    public const string HealthServiceName = "grpc.health.v1.Health";

    public const string GrpcTransport = "grpc";
    public const string HttpTransport = "http";
}
