using Mesh.AspNetCore.RateLimiting.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.RateLimiting.SharedStore;

/// <summary>The replica's memory of spent partitions: rejected until their window ends, bounded, swept.</summary>
public sealed class SpentPartitionsTests
{
    [Fact]
    public void TryGetRetryAfter_UntilTheWindowEnds_GivesTheTimeLeftThenForgets()
    {
        var time = new FakeTimeProvider();
        var spent = new SpentPartitions(time);
        var caller = CallerKey.ForService("order-service");
        spent.Remember(caller, time.GetTimestamp() + (5 * time.TimestampFrequency));
        time.Advance(TimeSpan.FromMilliseconds(1_250));

        Assert.True(spent.TryGetRetryAfter(caller, time.GetTimestamp(), out var retryAfter));
        Assert.Equal(TimeSpan.FromMilliseconds(3_750), retryAfter);
        Assert.False(spent.TryGetRetryAfter(CallerKey.ForService("other"), time.GetTimestamp(), out _));

        time.Advance(TimeSpan.FromMilliseconds(3_750));
        Assert.False(spent.TryGetRetryAfter(caller, time.GetTimestamp(), out _));
        Assert.Equal(0, spent.Count);
    }

    [Fact]
    public void Remember_Full_RemembersNoMoreUntilSwept()
    {
        var time = new FakeTimeProvider();
        var spent = new SpentPartitions(time, capacity: 3);
        var until = time.GetTimestamp() + time.TimestampFrequency;
        for (var i = 0; i < 10; i++)
        {
            spent.Remember(CallerKey.ForService($"caller-{i}"), until);
        }

        Assert.Equal(3, spent.Count);
        Assert.False(spent.TryGetRetryAfter(CallerKey.ForService("caller-9"), time.GetTimestamp(), out _));

        time.Advance(TimeSpan.FromSeconds(1));
        spent.RemoveEnded(time.GetTimestamp());
        Assert.Equal(0, spent.Count);
        spent.Remember(CallerKey.ForService("caller-9"), time.GetTimestamp() + time.TimestampFrequency);
        Assert.True(spent.TryGetRetryAfter(CallerKey.ForService("caller-9"), time.GetTimestamp(), out _));
    }

    [Fact]
    public void Clear_ForgetsEveryPartition()
    {
        var time = new FakeTimeProvider();
        var spent = new SpentPartitions(time);
        spent.Remember(CallerKey.Global, time.GetTimestamp() + time.TimestampFrequency);

        spent.Clear();

        Assert.False(spent.TryGetRetryAfter(CallerKey.Global, time.GetTimestamp(), out _));
        Assert.Equal(0, spent.Count);
    }
}
