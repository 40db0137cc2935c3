namespace Mesh.AspNetCore.RateLimiting.Internal;

internal static class RedisStoreConstants
{
    public const string DefaultKeyPrefix = "mesh:";
    public const int MaxKeyPrefixLength = 128;
    public const int DefaultTimeoutMs = 250;
    public const int MaxTimeoutMs = 10_000;

    /// <summary>The retry-after given with a rejection under <see cref="RateLimitStoreFailureMode.Reject"/>.</summary>
    public const int StoreFailureRetryAfterMs = 1_000;

    /// <summary>While the store fails, one request at most in this interval asks it again; the others take the fallback at once.</summary>
    public const int ProbeIntervalMs = 500;

    /// <summary>At most this many callers are remembered as spent; past it, a spent caller costs a round trip again.</summary>
    public const int MaxSpentCallers = 100_000;

    /// <summary>How long StackExchange.Redis waits for a connection, in milliseconds, when the mesh makes it.</summary>
    public const int ConnectTimeoutMs = 2_000;

    /// <summary>How often the connection made by the mesh checks for failures and reconnects, in milliseconds.</summary>
    public const int HeartbeatMs = 250;
}
