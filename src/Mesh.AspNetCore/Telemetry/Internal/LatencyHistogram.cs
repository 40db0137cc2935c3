using System.Numerics;

namespace Mesh.AspNetCore.Telemetry.Internal;

/// <summary>
/// Call durations in log-linear buckets (32 per power of two, so a bucket is at most about 3% wide), with their sum,
/// minimum and maximum; the count is the sum of the buckets. Memory is fixed (about 9 KB) however many calls are
/// recorded; recording is lock-free and allocation-free.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBucketBits = 5;
    private const int SubBucketCount = 1 << SubBucketBits;
    private const int MaxTickBits = 40; // 2^40 ticks is about 30 hours; longer durations land in the last bucket
    private const long MaxTicks = (1L << MaxTickBits) - 1;

    /// <summary>The number of buckets: the linear ones below 32 ticks, then 32 per power of two up to 2^40 ticks.</summary>
    public const int BucketCount = SubBucketCount + ((MaxTickBits - SubBucketBits) * SubBucketCount);

    private readonly long[] _buckets = new long[BucketCount];
    private long _sumTicks;
    private long _minTicks = long.MaxValue;
    private long _maxTicks;

    public void Record(TimeSpan duration)
    {
        var ticks = Math.Clamp(duration.Ticks, 0, MaxTicks);
        Interlocked.Increment(ref _buckets[BucketIndex(ticks)]);
        Interlocked.Add(ref _sumTicks, ticks);

        var min = Volatile.Read(ref _minTicks);
        while (ticks < min)
        {
            var seen = Interlocked.CompareExchange(ref _minTicks, ticks, min);
            if (seen == min)
            {
                break;
            }

            min = seen;
        }

        var max = Volatile.Read(ref _maxTicks);
        while (ticks > max)
        {
            var seen = Interlocked.CompareExchange(ref _maxTicks, ticks, max);
            if (seen == max)
            {
                break;
            }

            max = seen;
        }
    }

    /// <summary>Adds this histogram's figures to <paramref name="total"/>.</summary>
    public void AddTo(LatencySummary total)
    {
        total.SumTicks += Volatile.Read(ref _sumTicks);
        total.MinTicks = Math.Min(total.MinTicks, Volatile.Read(ref _minTicks));
        total.MaxTicks = Math.Max(total.MaxTicks, Volatile.Read(ref _maxTicks));
        for (var i = 0; i < _buckets.Length; i++)
        {
            var count = Volatile.Read(ref _buckets[i]);
            total.Buckets[i] += count;
            total.Count += count;
        }
    }

    internal static int BucketIndex(long ticks)
    {
        if (ticks < SubBucketCount)
        {
            return (int)ticks;
        }

        var shift = (63 - BitOperations.LeadingZeroCount((ulong)ticks)) - SubBucketBits;
        var mantissa = (int)(ticks >> shift) & (SubBucketCount - 1);
        return ((shift + 1) * SubBucketCount) + mantissa;
    }

    /// <summary>The middle of bucket <paramref name="index"/>, in ticks.</summary>
    internal static double BucketMidpoint(int index)
    {
        if (index < SubBucketCount)
        {
            return index;
        }

        var shift = (index / SubBucketCount) - 1;
        var lower = (long)(SubBucketCount + (index % SubBucketCount)) << shift;
        return lower + ((1L << shift) / 2.0);
    }
}

/// <summary>The latency figures of one or more <see cref="LatencyHistogram"/>s added together.</summary>
internal sealed class LatencySummary
{
    public long[] Buckets { get; } = new long[LatencyHistogram.BucketCount];

    public long Count { get; set; }

    public long SumTicks { get; set; }

    public long MinTicks { get; set; } = long.MaxValue;

    public long MaxTicks { get; set; }

    public double AverageMilliseconds => Count == 0 ? 0 : ToMilliseconds((double)SumTicks / Count);

    /// <summary>The smallest recorded duration that at least <paramref name="quantile"/> of the calls did not exceed (nearest rank), within a bucket's width.</summary>
    public double PercentileMilliseconds(double quantile)
    {
        if (Count == 0)
        {
            return 0;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(quantile * Count));
        long seen = 0;
        for (var i = 0; i < Buckets.Length; i++)
        {
            seen += Buckets[i];
            if (seen >= rank)
            {
                var ticks = LatencyHistogram.BucketMidpoint(i);
                if (MinTicks <= MaxTicks)
                {
                    ticks = Math.Clamp(ticks, MinTicks, MaxTicks);
                }

                return ToMilliseconds(ticks);
            }
        }

        return ToMilliseconds(MaxTicks);
    }

    private static double ToMilliseconds(double ticks) => Math.Round(ticks / TimeSpan.TicksPerMillisecond, 3);
}
