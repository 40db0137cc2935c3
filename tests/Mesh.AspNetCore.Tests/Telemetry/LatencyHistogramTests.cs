using Mesh.AspNetCore.Telemetry.Internal;

namespace Mesh.AspNetCore.Tests.Telemetry;

public sealed class LatencyHistogramTests
{
    [Fact]
    public void BucketIndex_IncreasingDurations_NeverDecreasesAndStaysInRange()
    {
        var previous = 0;
        for (var ticks = 0L; ticks < 1L << 40; ticks = (ticks * 17 / 16) + 1)
        {
            var index = LatencyHistogram.BucketIndex(ticks);

            Assert.InRange(index, previous, LatencyHistogram.BucketCount - 1);
            previous = index;
        }

        Assert.Equal(LatencyHistogram.BucketCount - 1, LatencyHistogram.BucketIndex((1L << 40) - 1));
    }

    [Fact]
    public void BucketMidpoint_EveryBucket_FallsInThatBucketAndNeighboursAreWithinThreePercent()
    {
        for (var index = 0; index < LatencyHistogram.BucketCount; index++)
        {
            var midpoint = LatencyHistogram.BucketMidpoint(index);
            Assert.Equal(index, LatencyHistogram.BucketIndex((long)midpoint));

            if (index is > 32 and < LatencyHistogram.BucketCount - 1)
            {
                // every value of a bucket is within half the distance to the neighbours' midpoints
                var spread = (LatencyHistogram.BucketMidpoint(index + 1) - LatencyHistogram.BucketMidpoint(index - 1)) / 2 / midpoint;
                Assert.True(spread <= 0.032, $"bucket {index} around {midpoint} ticks spreads {spread:P1}");
            }
        }
    }

    [Fact]
    public void Percentiles_UniformDurations_WithinTwoPercent()
    {
        var histogram = new LatencyHistogram();
        for (var ms = 1; ms <= 10_000; ms++)
        {
            histogram.Record(TimeSpan.FromMilliseconds(ms));
        }

        var summary = new LatencySummary();
        histogram.AddTo(summary);

        Assert.Equal(5000.5, summary.AverageMilliseconds, 3);
        Assert.Equal(5000, summary.PercentileMilliseconds(0.50), tolerance: 5000 * 0.02);
        Assert.Equal(9900, summary.PercentileMilliseconds(0.99), tolerance: 9900 * 0.02);
        Assert.Equal(1, summary.PercentileMilliseconds(0.0001), tolerance: 0.02);
        Assert.Equal(10_000, summary.PercentileMilliseconds(1), tolerance: 10_000 * 0.02);
    }

    [Fact]
    public void Record_DurationsOutsideTheRange_ClampedToZeroAndToTheLastBucket()
    {
        var histogram = new LatencyHistogram();

        histogram.Record(TimeSpan.FromTicks(-5));
        histogram.Record(TimeSpan.FromDays(365));

        var summary = new LatencySummary();
        histogram.AddTo(summary);
        Assert.Equal((2L, 1L, 1L), (summary.Count, summary.Buckets[0], summary.Buckets[^1]));
    }

    [Fact]
    public void Record_ManyThreadsAtOnce_LosesNoCall()
    {
        var histogram = new LatencyHistogram();

        Parallel.For(0, 100_000, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => histogram.Record(TimeSpan.FromMilliseconds(i % 100)));

        var summary = new LatencySummary();
        histogram.AddTo(summary);
        Assert.Equal((100_000L, 100_000L, 0L, 99 * TimeSpan.TicksPerMillisecond), (summary.Count, summary.Buckets.Sum(), summary.MinTicks, summary.MaxTicks));
        Assert.Equal(49.5, summary.AverageMilliseconds, 3);
    }
}
