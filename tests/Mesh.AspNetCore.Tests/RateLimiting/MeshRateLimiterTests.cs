using System.Runtime.CompilerServices;
using System.Threading.RateLimiting;
using Mesh.AspNetCore.RateLimiting.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.RateLimiting;

/// <summary>The partitioned fixed-window limiter in process: exactness under contention, retry-after, memory bound.</summary>
public sealed class MeshRateLimiterTests
{
    private readonly FakeTimeProvider _time = new();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AttemptAcquire_64ConcurrentCallersOneId_ExactlyMaxRequestsInEachWindow(bool coarseClock)
    {
        // FakeTimeProvider serialises every clock read behind a lock, which would hide races in the limiter:
        // this clock is read without one. With a coarse clock beside it, requests count without the precise one.
        var clock = new FreeRunningClock();
        using var provider = Services(maxRequests: 10_000, windowMs: 60_000, clock);
        var limiter = provider.GetRequiredService<MeshRateLimiter>();
        if (coarseClock)
        {
            limiter.CoarseMilliseconds = () => clock.GetTimestamp() / TimeSpan.TicksPerMillisecond;
        }

        var caller = CallerKey.ForService("svc-a");

        var perWindow = new List<int>();
        for (var window = 0; window < 5; window++)
        {
            var admitted = 0;
            using var start = new Barrier(64);
            var callers = Enumerable.Range(0, 64).Select(_ => Task.Factory.StartNew(
                () =>
                {
                    start.SignalAndWait(TestContext.Current.CancellationToken);
                    var mine = 0;
                    for (var i = 0; i < 1_000; i++)
                    {
                        using var lease = limiter.AttemptAcquire(caller);
                        if (lease.IsAcquired)
                        {
                            mine++;
                        }
                    }

                    Interlocked.Add(ref admitted, mine);
                },
                TestContext.Current.CancellationToken,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default)).ToArray();
            await Task.WhenAll(callers);
            perWindow.Add(admitted);
            clock.Advance(TimeSpan.FromMinutes(1));
        }

        Assert.Equal([10_000, 10_000, 10_000, 10_000, 10_000], perWindow);
    }

    [Fact]
    public void AttemptAcquire_Rejected_RetryAfterIsTheTimeLeftInTheCallersWindow()
    {
        using var provider = Services(maxRequests: 1, windowMs: 60_000);
        var limiter = provider.GetRequiredService<MeshRateLimiter>();
        var caller = CallerKey.ForService("svc-a");
        using var first = limiter.AttemptAcquire(caller);
        _time.Advance(TimeSpan.FromMilliseconds(20_000.5));

        using var rejected = limiter.AttemptAcquire(caller);

        Assert.False(rejected.IsAcquired);
        Assert.True(rejected.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
        Assert.Equal(TimeSpan.FromMilliseconds(39_999.5), retryAfter);
    }

    [Fact]
    public void AttemptAcquire_EachCallersWindowStartsAtItsFirstRequest()
    {
        using var provider = Services(maxRequests: 1, windowMs: 60_000);
        var limiter = provider.GetRequiredService<MeshRateLimiter>();
        var a = CallerKey.ForService("a");
        var b = CallerKey.ForService("b");
        Assert.True(limiter.AttemptAcquire(a).IsAcquired);
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(limiter.AttemptAcquire(b).IsAcquired);
        _time.Advance(TimeSpan.FromSeconds(30));

        var aAgain = limiter.AttemptAcquire(a);
        var bAgain = limiter.AttemptAcquire(b);

        Assert.True(aAgain.IsAcquired);
        Assert.False(bAgain.IsAcquired);
        Assert.True(bAgain.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
        Assert.Equal(TimeSpan.FromSeconds(30), retryAfter);
    }

    [Fact]
    public void Sweep_100000CallersCameAndWent_PartitionsReleased()
    {
        using var provider = Services(maxRequests: 10, windowMs: 60_000);
        var limiter = provider.GetRequiredService<MeshRateLimiter>();
        for (var i = 0; i < 100_000; i++)
        {
            Assert.True(limiter.AttemptAcquire(CallerKey.ForService("caller-" + i)).IsAcquired);
        }

        var live = limiter.PartitionCount;
        _time.Advance(TimeSpan.FromMilliseconds(60_000 + RateLimitConstants.SweepIntervalMs)); // the sweep timer fires on the fake clock

        Assert.Equal(100_000, live);
        Assert.Equal(0, limiter.PartitionCount);
    }

    [Fact]
    public void Sweep_100000CallersCameAndWent_GrownTableReplacedAndReleased()
    {
        using var provider = Services(maxRequests: 10, windowMs: 60_000);
        var limiter = provider.GetRequiredService<MeshRateLimiter>();
        for (var i = 0; i < 100_000; i++)
        {
            Assert.True(limiter.AttemptAcquire(CallerKey.ForService("caller-" + i)).IsAcquired);
        }

        var grown = WeakTable(limiter);
        _time.Advance(TimeSpan.FromMilliseconds(RateLimitConstants.SweepIntervalMs)); // windows running: nothing to drop
        var highWater = limiter.PartitionTableHighWater;
        _time.Advance(TimeSpan.FromMilliseconds(60_000)); // ended, and swept by the timer on the fake clock
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.Equal(100_000, highWater);
        Assert.Equal((0, 0), (limiter.PartitionCount, limiter.PartitionTableHighWater));
        Assert.False(grown.IsAlive, "the table grown to 100,000 partitions is still held once they are all gone");
        Assert.True(limiter.AttemptAcquire(CallerKey.ForService("caller-0")).IsAcquired);
    }

    [Fact]
    public void Sweep_FewCallersLeftOfAFlood_SurvivorsKeepTheirCountsInTheSmallerTable()
    {
        using var provider = Services(maxRequests: 3, windowMs: 60_000);
        var limiter = provider.GetRequiredService<MeshRateLimiter>();
        for (var i = 0; i < 5_000; i++)
        {
            limiter.AttemptAcquire(CallerKey.ForService("flood-" + i)).Dispose();
        }

        _time.Advance(TimeSpan.FromSeconds(30));
        var survivors = Enumerable.Range(0, 10).Select(i => CallerKey.ForService("survivor-" + i)).ToArray();
        foreach (var survivor in survivors)
        {
            Assert.True(limiter.AttemptAcquire(survivor).IsAcquired);
            Assert.True(limiter.AttemptAcquire(survivor).IsAcquired);
        }

        var table = limiter.PartitionTable;
        _time.Advance(TimeSpan.FromSeconds(30)); // the flood's windows end, the survivors' run 30 s more

        limiter.RemoveIdlePartitions();

        Assert.NotSame(table, limiter.PartitionTable);
        Assert.Equal((10, 10), (limiter.PartitionCount, limiter.PartitionTableHighWater));
        foreach (var survivor in survivors)
        {
            Assert.True(limiter.AttemptAcquire(survivor).IsAcquired);
            using var rejected = limiter.AttemptAcquire(survivor);
            Assert.False(rejected.IsAcquired);
            Assert.True(rejected.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
            Assert.Equal(TimeSpan.FromSeconds(30), retryAfter);
        }
    }

    [Fact]
    public void Sweep_SmallTable_Kept()
    {
        using var provider = Services(maxRequests: 3, windowMs: 60_000);
        var limiter = provider.GetRequiredService<MeshRateLimiter>();
        for (var i = 0; i < RateLimitConstants.PartitionTableShrinkMinimum - 1; i++)
        {
            limiter.AttemptAcquire(CallerKey.ForService("caller-" + i)).Dispose();
        }

        var table = limiter.PartitionTable;
        _time.Advance(TimeSpan.FromSeconds(60));

        limiter.RemoveIdlePartitions();

        Assert.Same(table, limiter.PartitionTable);
        Assert.Equal(0, limiter.PartitionCount);
    }

    [Fact]
    public void AttemptAcquire_NewCallerWhileTheTableIsReplaced_CountedInTheNewTable()
    {
        using var provider = Services(maxRequests: 1, windowMs: 60_000);
        var limiter = provider.GetRequiredService<MeshRateLimiter>();
        AddIdlePartitions(limiter, RateLimitConstants.PartitionTableShrinkMinimum);
        var table = limiter.PartitionTable;

        // The request reads which table is current, then the sweep replaces that table before the request adds its window.
        limiter.OnTableRead = () =>
        {
            limiter.OnTableRead = null;
            limiter.RemoveIdlePartitions();
        };
        var first = limiter.AttemptAcquire(CallerKey.ForService("newcomer")).IsAcquired;
        var second = limiter.AttemptAcquire(CallerKey.ForService("newcomer")).IsAcquired;

        Assert.NotSame(table, limiter.PartitionTable);
        Assert.Equal((true, false), (first, second));
    }

    [Fact]
    public void AttemptAcquire_WhileSurvivorsAreCopied_CountsInTheSameWindows()
    {
        using var provider = Services(maxRequests: 2, windowMs: 60_000);
        var limiter = provider.GetRequiredService<MeshRateLimiter>();
        var survivor = CallerKey.ForService("survivor");
        var newcomer = CallerKey.ForService("newcomer");
        Assert.True(limiter.AttemptAcquire(survivor).IsAcquired);
        AddIdlePartitions(limiter, RateLimitConstants.PartitionTableShrinkMinimum);
        var during = new List<bool>();

        // Requests between the new table's publication and the copy of the survivors into it.
        limiter.OnTablePublished = () =>
        {
            during.Add(limiter.AttemptAcquire(survivor).IsAcquired);
            during.Add(limiter.AttemptAcquire(survivor).IsAcquired);
            during.Add(limiter.AttemptAcquire(newcomer).IsAcquired);
        };
        limiter.RemoveIdlePartitions();
        limiter.OnTablePublished = null;

        Assert.Equal([true, false, true], during);
        Assert.False(limiter.AttemptAcquire(survivor).IsAcquired);
        Assert.True(limiter.AttemptAcquire(newcomer).IsAcquired);
        Assert.False(limiter.AttemptAcquire(newcomer).IsAcquired);
        Assert.Equal(2, limiter.PartitionCount);
    }

    [Fact]
    public async Task AttemptAcquire_ConcurrentWithTableReplacements_EachCallerAdmittedExactlyMaxRequests()
    {
        const int MaxRequests = 50;
        const int Callers = 32;
        var clock = new FreeRunningClock();
        using var provider = Services(MaxRequests, windowMs: 60_000, clock);
        var limiter = provider.GetRequiredService<MeshRateLimiter>();
        var cancellationToken = TestContext.Current.CancellationToken;
        var replacements = 0;

        for (var round = 0; round < 20; round++)
        {
            // New callers each round, so that their first requests race the replacements too.
            var callers = Enumerable.Range(0, Callers).Select(i => CallerKey.ForService($"steady-{round}-{i}")).ToArray();
            var admitted = new int[Callers];
            var replacedThisRound = 0;
            var done = 0;
            using var start = new Barrier(9);
            var sweeper = Task.Factory.StartNew(
                () =>
                {
                    start.SignalAndWait(cancellationToken);
                    for (var pass = 0; Volatile.Read(ref done) < 8; pass++)
                    {
                        // Idle partitions (no permit taken: their window has ended) that the sweep drops at once.
                        for (var i = 0; i < 2 * RateLimitConstants.PartitionTableShrinkMinimum; i++)
                        {
                            limiter.AttemptAcquire(CallerKey.ForService($"idle-{round}-{pass}-{i}"), 0).Dispose();
                        }

                        var table = limiter.PartitionTable;
                        limiter.RemoveIdlePartitions();
                        if (!ReferenceEquals(table, limiter.PartitionTable))
                        {
                            Interlocked.Increment(ref replacedThisRound);
                        }
                    }
                },
                cancellationToken,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);
            var requesters = Enumerable.Range(0, 8).Select(_ => Task.Factory.StartNew(
                () =>
                {
                    start.SignalAndWait(cancellationToken);
                    for (var pass = 0; pass < 200 || (Volatile.Read(ref replacedThisRound) < 3 && pass < 20_000); pass++)
                    {
                        for (var i = 0; i < Callers; i++)
                        {
                            using var lease = limiter.AttemptAcquire(callers[i]);
                            if (lease.IsAcquired)
                            {
                                Interlocked.Increment(ref admitted[i]);
                            }
                        }
                    }

                    Interlocked.Increment(ref done);
                },
                cancellationToken,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default)).ToArray();
            await Task.WhenAll([.. requesters, sweeper]);

            Assert.Equal(Enumerable.Repeat(MaxRequests, Callers), admitted);
            replacements += replacedThisRound;
            clock.Advance(TimeSpan.FromMinutes(1));
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"{replacements} table replacements");
        Assert.True(replacements >= 20 * 3, $"only {replacements} table replacements ran while callers counted");
    }

    [Fact]
    public void Sweep_WindowNotEnded_PartitionAndItsCountKept()
    {
        using var provider = Services(maxRequests: 1, windowMs: 60_000);
        var limiter = provider.GetRequiredService<MeshRateLimiter>();
        var caller = CallerKey.ForService("svc-a");
        Assert.True(limiter.AttemptAcquire(caller).IsAcquired);
        _time.Advance(TimeSpan.FromMilliseconds(RateLimitConstants.SweepIntervalMs));

        limiter.RemoveIdlePartitions();

        Assert.Equal(1, limiter.PartitionCount);
        Assert.False(limiter.AttemptAcquire(caller).IsAcquired);
    }

    [Fact]
    public void Sweep_RequestOpensTheNextWindowWhileTheSweepDropsTheEndedOne_NewWindowAndItsCountKept()
    {
        using var provider = Services(maxRequests: 1, windowMs: 1_000);
        var limiter = provider.GetRequiredService<MeshRateLimiter>();
        var caller = CallerKey.ForService("svc-a");
        Assert.True(limiter.AttemptAcquire(caller).IsAcquired);
        _time.Advance(TimeSpan.FromSeconds(1));

        // The sweep has seen the window end; before it drops the partition, the caller's next request opens a new window.
        var during = false;
        limiter.OnEndedWindowFound = () =>
        {
            limiter.OnEndedWindowFound = null;
            during = limiter.AttemptAcquire(caller).IsAcquired;
        };
        limiter.RemoveIdlePartitions();

        Assert.True(during);
        Assert.Equal(1, limiter.PartitionCount);
        Assert.False(limiter.AttemptAcquire(caller).IsAcquired);
    }

    [Fact]
    public void AttemptAcquire_ConcurrentWithSweeps_NeverAdmitsMoreThanMaxRequests()
    {
        using var provider = Services(maxRequests: 5, windowMs: 1_000);
        var limiter = provider.GetRequiredService<MeshRateLimiter>();
        var caller = CallerKey.ForService("svc-a");

        for (var window = 0; window < 50; window++)
        {
            var admitted = 0;
            Parallel.For(0, 64, new ParallelOptions { CancellationToken = TestContext.Current.CancellationToken }, i =>
            {
                if (i % 16 == 0)
                {
                    limiter.RemoveIdlePartitions();
                }

                if (limiter.AttemptAcquire(caller).IsAcquired)
                {
                    Interlocked.Increment(ref admitted);
                }
            });
            Assert.Equal(5, admitted);
            _time.Advance(TimeSpan.FromSeconds(1));
        }
    }

    [Fact]
    public void AttemptAcquire_Disabled_AdmitsAndKeepsNoPartitions()
    {
        using var provider = Services(maxRequests: 1, windowMs: 60_000, enabled: false);
        var limiter = provider.GetRequiredService<MeshRateLimiter>();

        var admitted = Enumerable.Range(0, 100).Count(_ => limiter.AttemptAcquire(CallerKey.ForService("svc-a")).IsAcquired);

        Assert.Equal((100, 0), (admitted, limiter.PartitionCount));
    }

    [Fact]
    public void AttemptAcquire_Admitted_AllocatesNothing()
    {
        using var provider = Services(maxRequests: int.MaxValue, windowMs: 60_000);
        var limiter = provider.GetRequiredService<MeshRateLimiter>();
        var caller = CallerKey.ForService("svc-a");
        for (var i = 0; i < 1_000; i++)
        {
            limiter.AttemptAcquire(caller).Dispose();
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            limiter.AttemptAcquire(caller).Dispose();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void GetStatistics_AfterTwoRequests_ReportsPermitsLeft()
    {
        using var provider = Services(maxRequests: 5, windowMs: 60_000);
        var limiter = provider.GetRequiredService<MeshRateLimiter>();
        var caller = CallerKey.ForService("svc-a");
        limiter.AttemptAcquire(caller);
        limiter.AttemptAcquire(caller);

        Assert.Equal(3, limiter.GetStatistics(caller)?.CurrentAvailablePermits);
    }

    [Fact]
    public void CoarseClock_SystemTimeProvider_UsedOnlyWithIt()
    {
        using var system = Services(maxRequests: 5, windowMs: 60_000, TimeProvider.System);
        using var fake = Services(maxRequests: 5, windowMs: 60_000);

        Assert.NotNull(system.GetRequiredService<MeshRateLimiter>().CoarseMilliseconds);
        Assert.Null(fake.GetRequiredService<MeshRateLimiter>().CoarseMilliseconds);
    }

    [Fact]
    public void AttemptAcquire_CoarseClockTicksBehind_WindowStillEndsExactlyOnThePreciseClock()
    {
        // A coarse clock that ticks every 45 ms from the window's start: at the window's end it reads 990 ms, 10 ms
        // short of the window.
        var time = new CountingTimeProvider();
        using var provider = Services(maxRequests: 3, windowMs: 1_000, time);
        var limiter = provider.GetRequiredService<MeshRateLimiter>();
        var start = time.Milliseconds;
        limiter.CoarseMilliseconds = () => (time.Milliseconds - start) / 45 * 45;
        var caller = CallerKey.ForService("svc-a");
        Assert.True(limiter.AttemptAcquire(caller).IsAcquired);
        time.Advance(TimeSpan.FromMilliseconds(1_000));

        var leases = Enumerable.Range(0, 10).Select(_ => limiter.AttemptAcquire(caller)).ToList();

        // The window that opened at 0 ended at 1,000: the next one admits 3 and tells the 4th to wait all of it.
        Assert.Equal(3, leases.Count(l => l.IsAcquired));
        Assert.True(leases[3].TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
        Assert.Equal(TimeSpan.FromMilliseconds(1_000), retryAfter);
    }

    [Fact]
    public void AttemptAcquire_WindowFarFromItsEnd_CountsWithoutReadingThePreciseClock()
    {
        var time = new CountingTimeProvider();
        using var provider = Services(maxRequests: 101, windowMs: 60_000, time);
        var limiter = provider.GetRequiredService<MeshRateLimiter>();
        limiter.CoarseMilliseconds = () => time.Milliseconds;
        var caller = CallerKey.ForService("svc-a");
        Assert.True(limiter.AttemptAcquire(caller).IsAcquired); // opens the window: reads the precise clock
        time.Advance(TimeSpan.FromSeconds(30));
        var readsBefore = time.Reads;

        var admitted = Enumerable.Range(0, 100).Count(_ => limiter.AttemptAcquire(caller).IsAcquired);
        var readsWhileAdmitting = time.Reads - readsBefore;
        var rejected = limiter.AttemptAcquire(caller);

        Assert.Equal((100, 0), (admitted, readsWhileAdmitting));
        Assert.False(rejected.IsAcquired);
        Assert.True(rejected.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
        Assert.Equal(TimeSpan.FromSeconds(30), retryAfter);
    }

    /// <summary>Partitions whose window has ended at once (no permit taken), which the next sweep drops.</summary>
    private static void AddIdlePartitions(MeshRateLimiter limiter, int count)
    {
        for (var i = 0; i < count; i++)
        {
            limiter.AttemptAcquire(CallerKey.ForService("idle-" + i), 0).Dispose();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference WeakTable(MeshRateLimiter limiter) => new(limiter.PartitionTable);

    private ServiceProvider Services(int maxRequests, int windowMs, bool enabled = true) => Services(maxRequests, windowMs, _time, enabled);

    private static ServiceProvider Services(int maxRequests, int windowMs, TimeProvider time, bool enabled = true)
    {
        var services = new ServiceCollection().AddLogging().AddSingleton(time);
        services.AddSecureMesh(o =>
        {
            o.ServiceId = "svc";
            o.Resilience.RateLimit.MaxRequests = maxRequests;
            o.Resilience.RateLimit.WindowMs = windowMs;
            o.Resilience.RateLimit.Enabled = enabled;
        });
        return services.BuildServiceProvider();
    }

    /// <summary>A fake clock that counts the precise timestamps read from it.</summary>
    private sealed class CountingTimeProvider : FakeTimeProvider
    {
        private int _reads;

        public int Reads => Volatile.Read(ref _reads);

        /// <summary>The fake time in whole milliseconds, read without counting.</summary>
        public long Milliseconds => GetUtcNow().ToUnixTimeMilliseconds();

        public override long GetTimestamp()
        {
            Interlocked.Increment(ref _reads);
            return base.GetTimestamp();
        }
    }

    /// <summary>A manually advanced clock whose reads take no lock; its timers never fire.</summary>
    private sealed class FreeRunningClock : TimeProvider
    {
        private long _timestamp;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Volatile.Read(ref _timestamp);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _timestamp, by.Ticks);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => new NeverTimer();

        private sealed class NeverTimer : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;

            public void Dispose()
            {
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
