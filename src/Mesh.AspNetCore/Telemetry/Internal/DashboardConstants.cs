namespace Mesh.AspNetCore.Telemetry.Internal;

/// <summary>Defaults of the dashboard served by <c>MapMeshDashboard</c>.</summary>
internal static class DashboardConstants
{
    /// <summary>The default route of the page; its feed is at <c>{pattern}/feed</c>.</summary>
    public const string DefaultPattern = "/mesh/dashboard";

    /// <summary>The feed's route below the page's.</summary>
    public const string FeedPath = "/feed";

    /// <summary>How often the feed's event stream sends a snapshot, so the page is at most this far behind.</summary>
    public static readonly TimeSpan PushInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>The width of one point of the latency chart: p50 and p99 of the calls that ended in that window.</summary>
    public static readonly TimeSpan LatencyWindow = TimeSpan.FromSeconds(2);

    /// <summary>The number of latency windows kept per service: five minutes.</summary>
    public const int LatencyHistoryLength = 150;

    /// <summary>The most event streams served at once; more are answered with 503, so viewers cannot pile up snapshots.</summary>
    public const int MaxConcurrentStreams = 64;

    /// <summary>The milliseconds a browser waits before reconnecting a dropped event stream.</summary>
    public const int ReconnectDelayMs = 1000;
}
