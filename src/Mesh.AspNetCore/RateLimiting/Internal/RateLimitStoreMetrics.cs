using System.Diagnostics;
using System.Diagnostics.Metrics;
using Mesh.AspNetCore.Telemetry.Internal;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>The shared store's instrument on the <c>Mesh.AspNetCore</c> meter: <c>mesh.rate_limit.store.failures</c>.</summary>
internal sealed class RateLimitStoreMetrics
{
    public const string StoreFailuresName = "mesh.rate_limit.store.failures";
    public const string FallbackTag = "mesh.rate_limit.fallback";

    private readonly Counter<long> _failures;
    private long _failureCount;

    public RateLimitStoreMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(new MeterOptions(MeshMetrics.MeterName));
        _failures = meter.CreateCounter<long>(
            StoreFailuresName,
            unit: "{failure}",
            description: "Requests of the rate limit that the shared store did not answer in time (or refused), by the fallback applied instead.");
    }

    /// <summary>Store failures since the start.</summary>
    public long Failures => Volatile.Read(ref _failureCount);

    public void StoreFailed(RateLimitStoreFailureMode fallback)
    {
        Interlocked.Increment(ref _failureCount);
        if (_failures.Enabled)
        {
            var tags = default(TagList);
            tags.Add(FallbackTag, FallbackName(fallback));
            _failures.Add(1, in tags);
        }
    }

    private static string FallbackName(RateLimitStoreFailureMode mode) => mode switch
    {
        RateLimitStoreFailureMode.Allow => "allow",
        RateLimitStoreFailureMode.Reject => "reject",
        _ => "local",
    };
}
