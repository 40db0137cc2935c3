using Mesh.AspNetCore.RateLimiting.Internal;
using Mesh.AspNetCore.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.RateLimiting.SharedStore;

/// <summary>
/// When an outage begins and ends, on a store whose answers a proxy holds back and a fake clock for
/// <c>Mesh:Redis:TimeoutMs</c>: answers that arrive late, for requests sent before the outage began, do not end it, so
/// a store that fails under load is logged as one outage rather than as many short ones.
/// </summary>
public sealed class RedisStoreOutageStateTests
{
    // Long on the real clock, so that StackExchange.Redis's own timeout (the same value) never fires during a test;
    // the store's timeouts in these tests are reached by moving the fake clock.
    private const int TimeoutMs = 10_000;

    [Fact]
    public async Task AcquireAsync_LateAnswerToARequestSentBeforeTheOutage_DoesNotEndItButTheNextProbeDoes()
    {
        using var server = SharedStoreServer.Start(SharedStoreServer.Garnet);
        using var proxy = HoldingProxy.Start(server.Port);
        await using var mesh = await StoreUnderTest.StartAsync(proxy.Configuration, server.KeyPrefix);
        var store = mesh.Store;
        var limit = mesh.Limit;

        proxy.HoldAnswers();
        var sentFirst = store.AcquireAsync(CallerKey.ForService("a"), limit).AsTask();
        mesh.Time.Advance(TimeSpan.FromMilliseconds(TimeoutMs / 2));
        var sentSecond = store.AcquireAsync(CallerKey.ForService("b"), limit).AsTask();
        mesh.Time.Advance(TimeSpan.FromMilliseconds(TimeoutMs / 2));

        // The first request took the whole timeout: the outage begins, and the request is decided by the fallback.
        Assert.True((await sentFirst).IsAdmitted);
        Assert.True(store.IsFailing);
        Assert.False(sentSecond.IsCompleted);

        // The store's answer to the second request arrives in time for it, but the request was sent before the outage.
        proxy.ReleaseAnswers();
        Assert.True((await sentSecond).IsAdmitted);
        Assert.True(store.IsFailing);
        Assert.Equal((1, 0), mesh.Outages());

        // The next probe, sent during the outage, ends it.
        mesh.Time.Advance(TimeSpan.FromMilliseconds(RedisStoreConstants.ProbeIntervalMs));
        Assert.True((await store.AcquireAsync(CallerKey.ForService("c"), limit)).IsAdmitted);
        Assert.False(store.IsFailing);
        Assert.Equal((1, 1), mesh.Outages());
        Assert.Equal(1, mesh.Services.GetRequiredService<RateLimitStoreMetrics>().Failures);
    }

    [Fact]
    public async Task AcquireAsync_DuringAnOutage_FallbackAtOnceAndOneProbePerInterval()
    {
        using var server = SharedStoreServer.Start(SharedStoreServer.Garnet);
        using var proxy = HoldingProxy.Start(server.Port);
        await using var mesh = await StoreUnderTest.StartAsync(proxy.Configuration, server.KeyPrefix);
        var store = mesh.Store;
        var limit = mesh.Limit;
        proxy.HoldAnswers();
        var first = store.AcquireAsync(CallerKey.ForService("first"), limit).AsTask();
        mesh.Time.Advance(TimeSpan.FromMilliseconds(TimeoutMs));
        await first;
        Assert.True(store.IsFailing);

        // Until the probe interval has passed, no request asks the store: each is decided at once, without waiting.
        for (var i = 0; i < 20; i++)
        {
            var decision = store.AcquireAsync(CallerKey.ForService($"caller-{i}"), limit);
            Assert.True(decision.IsCompletedSuccessfully);
            Assert.True((await decision).IsAdmitted);
            mesh.Time.Advance(TimeSpan.FromMilliseconds((RedisStoreConstants.ProbeIntervalMs / 20) - 1));
        }

        // Then one request asks it (and waits for its answer, held by the proxy); the others still do not.
        mesh.Time.Advance(TimeSpan.FromMilliseconds(20));
        var probe = store.AcquireAsync(CallerKey.ForService("probe"), limit).AsTask();
        Assert.False(probe.IsCompleted);
        for (var i = 0; i < 5; i++)
        {
            Assert.True(store.AcquireAsync(CallerKey.ForService($"meanwhile-{i}"), limit).IsCompletedSuccessfully);
        }

        proxy.ReleaseAnswers();
        Assert.True((await probe).IsAdmitted);
        Assert.False(store.IsFailing);
        Assert.Equal((1, 1), mesh.Outages());
        Assert.Equal(1, mesh.Services.GetRequiredService<RateLimitStoreMetrics>().Failures);
    }

    /// <summary>The shared store of one replica, built from DI as the application builds it, on a fake clock.</summary>
    private sealed class StoreUnderTest : IAsyncDisposable
    {
        private readonly ServiceProvider _services;
        private readonly TestLoggerProvider _logs;

        private StoreUnderTest(ServiceProvider services, FakeTimeProvider time, TestLoggerProvider logs)
        {
            _services = services;
            _logs = logs;
            Time = time;
        }

        public IServiceProvider Services => _services;

        public FakeTimeProvider Time { get; }

        public RedisRateLimitStore Store => _services.GetRequiredService<RedisRateLimitStore>();

        public RateLimitOptions Limit => new() { MaxRequests = 100, WindowMs = 60_000, Store = RateLimitStore.Redis };

        public static async Task<StoreUnderTest> StartAsync(string configuration, string keyPrefix)
        {
            var time = new FakeTimeProvider();
            var logs = new TestLoggerProvider();
            var services = new ServiceCollection()
                .AddLogging(b => b.AddProvider(logs))
                .AddSingleton<TimeProvider>(time);
            services.AddSecureMesh(o =>
            {
                o.ServiceId = "payment-service";
                o.Redis.Configuration = configuration;
                o.Redis.KeyPrefix = keyPrefix;
                o.Redis.TimeoutMs = TimeoutMs;
                o.Resilience.RateLimit.MaxRequests = 100;
                o.Resilience.RateLimit.Store = RateLimitStore.Redis;
            });
            var provider = services.BuildServiceProvider();
            var connection = await provider.GetRequiredService<RedisConnection>().GetAsync().WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
            Assert.True(connection.IsConnected);
            return new StoreUnderTest(provider, time, logs);
        }

        /// <summary>The outages logged and the ends of outages logged.</summary>
        public (int Down, int Back) Outages() => (
            _logs.Entries.Count(e => e.EventId.Name == "RateLimitStoreDown"),
            _logs.Entries.Count(e => e.EventId.Name == "RateLimitStoreBack"));

        public ValueTask DisposeAsync() => _services.DisposeAsync();
    }
}
