using System.Globalization;

namespace Mesh.AspNetCore.Benchmarks.Infrastructure;

/// <summary>Flat <c>Mesh:...</c> configurations, as an application's appsettings.json would give them.</summary>
internal static class MeshConfiguration
{
    public const string BenchServiceId = "bench-service";

    /// <summary>A service with no inbound rate limit configured: the limit is off.</summary>
    public static Dictionary<string, string?> NoRateLimit() => new()
    {
        ["Mesh:ServiceId"] = "bench-server",
    };

    /// <summary>A service that limits inbound calls to <paramref name="maxRequests"/> per caller per day.</summary>
    public static Dictionary<string, string?> RateLimited(int maxRequests) => new()
    {
        ["Mesh:ServiceId"] = "bench-server",
        ["Mesh:Resilience:RateLimit:MaxRequests"] = maxRequests.ToString(CultureInfo.InvariantCulture),
        ["Mesh:Resilience:RateLimit:WindowMs"] = "86400000",
    };

    /// <summary>A client service that discovers <see cref="BenchServiceId"/> at <paramref name="address"/>, with every client pattern on (defaults).</summary>
    public static Dictionary<string, string?> Client(Uri address) => new()
    {
        ["Mesh:ServiceId"] = "bench-client",
        ["Mesh:Discovery:Services:0:Id"] = BenchServiceId,
        ["Mesh:Discovery:Services:0:Host"] = address.Host,
        ["Mesh:Discovery:Services:0:Port"] = address.Port.ToString(CultureInfo.InvariantCulture),
    };
}
