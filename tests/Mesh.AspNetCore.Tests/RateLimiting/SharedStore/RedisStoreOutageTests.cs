using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Mesh.AspNetCore.RateLimiting.Internal;
using Mesh.AspNetCore.Tests.Reliability;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.RateLimiting.SharedStore;

/// <summary>
/// The shared store goes down under load and comes back: no request fails or waits because of it, the fallback of
/// <c>OnStoreFailure</c> applies at once, the outage is logged once, and the shared quota is back with the store.
/// Real time and unobserved task exceptions are measured, so these run alone.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public sealed class RedisStoreOutageTests
{
    private const int TimeoutMs = 500;

    // Generous: two cores shared by many builds. Without the timeout a request would wait for the store's reconnect.
    private static readonly TimeSpan s_heldAtMost = TimeSpan.FromMilliseconds(TimeoutMs + 1_500);

    [Theory]
    [InlineData(RateLimitStoreFailureMode.Local)]
    [InlineData(RateLimitStoreFailureMode.Allow)]
    [InlineData(RateLimitStoreFailureMode.Reject)]
    public async Task Say_StoreKilledMidLoadAndBack_NoRequestFailsOrWaitsAndTheSharedQuotaReturns(RateLimitStoreFailureMode mode)
    {
        using var unobserved = UnobservedTaskExceptions.Start();
        using var server = SharedStoreServer.Start(SharedStoreServer.Garnet);
        await using var replicas = await StoreReplicas.StartAsync(
            2, server.Json("payment-service", $$"""{ "MaxRequests": 5, "WindowMs": 60000, "Store": "Redis", "OnStoreFailure": "{{mode}}" }""", TimeoutMs));
        await ConnectedAsync(replicas);
        Assert.Equal([5], (await replicas.CallAsync(["before"], 8)).Values.Select(Admitted));

        await using (var load = SteadyCalls.Start(replicas, workers: 16))
        {
            await load.CompletedAtLeastAsync(200);
            var down = replicas.Replicas.Select(r => OutageChangeAsync(r, failing: true)).ToArray();
            server.Kill();
            await Task.WhenAll(down);
            await load.CompletedAtLeastAsync(load.Completed + 400);

            // Decided by the fallback while the store is down.
            var during = await replicas.CallAsync(["during-a", "during-b"], 12);
            var expectedDuring = mode switch
            {
                RateLimitStoreFailureMode.Local => 10, // 5 on each replica, counted in its own memory
                RateLimitStoreFailureMode.Allow => 12,
                _ => 0,
            };
            Assert.All(during.Values, statuses => Assert.Equal(expectedDuring, Admitted(statuses)));

            // The load's requests probe the store; on each replica the first one answered ends the outage.
            var back = replicas.Replicas.Select(r => OutageChangeAsync(r, failing: false)).ToArray();
            server.Restart();
            await Task.WhenAll(back);
            await load.CompletedAtLeastAsync(load.Completed + 200);
            var result = await load.StopAsync();

            Assert.Empty(result.Statuses.Keys.Except([StatusCode.OK, StatusCode.ResourceExhausted]));
            Assert.True(result.Longest < s_heldAtMost, $"a request was held {result.Longest.TotalMilliseconds:F0} ms");
        }

        // Shared again: 5 across both replicas, not 5 on each.
        Assert.Equal([5], (await replicas.CallAsync(["after"], 10)).Values.Select(Admitted));
        foreach (var replica in replicas.Replicas)
        {
            // Once per outage and once at its end, not for each of the many requests decided by the fallback meanwhile.
            // A busy machine may add a slow answer as a second short outage.
            var down = replica.Host.Logs.Entries.Count(e => e.EventId.Name == "RateLimitStoreDown");
            var back = replica.Host.Logs.Entries.Count(e => e.EventId.Name == "RateLimitStoreBack");
            var failures = replica.Host.Services.GetRequiredService<RateLimitStoreMetrics>().Failures;
            Assert.InRange(down, 1, 2);
            Assert.Equal(down, back);
            Assert.True(failures >= down, $"{failures} store failures counted, {down} outages logged");
        }

        Assert.Empty(await unobserved.CollectAsync());
    }

    [Fact]
    public async Task Say_StoreAcceptsButNeverAnswers_NoRequestHeldPastTimeoutAndOutageLoggedOnce()
    {
        using var unobserved = UnobservedTaskExceptions.Start();
        using var silent = SilentStore.Start();
        var json = $$"""
            {
              "Mesh": {
                "ServiceId": "payment-service",
                "Redis": { "Configuration": "127.0.0.1:{{silent.Port}}", "TimeoutMs": {{TimeoutMs}} },
                "Resilience": { "RateLimit": { "MaxRequests": 3, "WindowMs": 60000, "Store": "Redis" } }
              }
            }
            """;
        await using var replicas = await StoreReplicas.StartAsync(2, json);
        var longest = TimeSpan.Zero;
        var statuses = new List<StatusCode>();

        for (var i = 0; i < 16; i++)
        {
            var started = Stopwatch.GetTimestamp();
            statuses.Add(await replicas[i % 2].SayAsync(RateLimitedService.Caller("order-service")));
            var elapsed = Stopwatch.GetElapsedTime(started);
            longest = elapsed > longest ? elapsed : longest;
        }

        Assert.True(longest < s_heldAtMost, $"a request was held {longest.TotalMilliseconds:F0} ms");
        Assert.Equal(6, statuses.Count(s => s == StatusCode.OK)); // OnStoreFailure Local: 3 on each replica
        Assert.Equal(10, statuses.Count(s => s == StatusCode.ResourceExhausted));
        foreach (var replica in replicas.Replicas)
        {
            Assert.Equal(1, replica.Host.Logs.Entries.Count(e => e.EventId.Name == "RateLimitStoreDown"));
        }

        Assert.Empty(await unobserved.CollectAsync());
    }

    private static int Admitted(StatusCode[] statuses) => statuses.Count(s => s == StatusCode.OK);

    /// <summary>Waits until every replica has made its connection to the store, so that the first requests ask it.</summary>
    private static async Task ConnectedAsync(StoreReplicas replicas)
    {
        foreach (var replica in replicas.Replicas)
        {
            var connection = await replica.Host.Services.GetRequiredService<RedisConnection>().GetAsync()
                .WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
            Assert.True(connection.IsConnected, "a replica made no connection to the running store");
        }
    }

    /// <summary>
    /// Completes when the replica's store reports the next start (<paramref name="failing"/>) or end of an outage, or at
    /// once when it is in that state already.
    /// </summary>
    private static async Task OutageChangeAsync(RateLimitedService replica, bool failing)
    {
        var store = replica.Host.Services.GetRequiredService<RedisRateLimitStore>();
        var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChanged(bool now)
        {
            if (now == failing)
            {
                changed.TrySetResult();
            }
        }

        store.FailingChanged += OnChanged;
        try
        {
            if (store.IsFailing == failing)
            {
                return;
            }

            await changed.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        }
        finally
        {
            store.FailingChanged -= OnChanged;
        }
    }

    /// <summary>A TCP server that accepts connections and never answers: a store that hangs.</summary>
    private sealed class SilentStore : IDisposable
    {
        private readonly TcpListener _listener;
        private readonly List<Socket> _accepted = [];
        private readonly CancellationTokenSource _stop = new();

        private SilentStore(TcpListener listener) => _listener = listener;

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static SilentStore Start()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var store = new SilentStore(listener);
            _ = store.AcceptAsync();
            return store;
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            lock (_accepted)
            {
                _accepted.ForEach(s => s.Dispose());
            }

            _stop.Dispose();
        }

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var socket = await _listener.AcceptSocketAsync(_stop.Token);
                    lock (_accepted)
                    {
                        _accepted.Add(socket);
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // Stopped.
            }
            catch (InvalidOperationException) when (_stop.IsCancellationRequested)
            {
                // Stopped between two accepts: the listener refuses the next accept instead of cancelling it.
            }
        }
    }

    /// <summary>Workers calling the replicas in turn, each as its own caller, timing every call, until stopped.</summary>
    private sealed class SteadyCalls : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Dictionary<StatusCode, int> _statuses = [];
        private readonly List<(int Count, TaskCompletionSource Signal)> _waiters = [];
        private readonly Task _workers;
        private long _longestTicks;
        private int _completed;

        private SteadyCalls(StoreReplicas replicas, int workers) =>
            _workers = Task.WhenAll(Enumerable.Range(0, workers).Select(w => Task.Run(() => WorkAsync(replicas, w))));

        public int Completed => Volatile.Read(ref _completed);

        public static SteadyCalls Start(StoreReplicas replicas, int workers) => new(replicas, workers);

        public Task CompletedAtLeastAsync(int count)
        {
            lock (_statuses)
            {
                if (_completed >= count)
                {
                    return Task.CompletedTask;
                }

                var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Add((count, signal));
                return signal.Task.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
            }
        }

        public async Task<(IReadOnlyDictionary<StatusCode, int> Statuses, TimeSpan Longest)> StopAsync()
        {
            await _stop.CancelAsync();
            await _workers;
            lock (_statuses)
            {
                return (new Dictionary<StatusCode, int>(_statuses), TimeSpan.FromTicks(Interlocked.Read(ref _longestTicks)));
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _workers;
            _stop.Dispose();
        }

        private async Task WorkAsync(StoreReplicas replicas, int worker)
        {
            // A fresh caller for every call, so that every call asks the store (a spent caller would not).
            for (var i = 0; !_stop.IsCancellationRequested; i++)
            {
                var started = Stopwatch.GetTimestamp();
                var status = await replicas[(worker + i) % replicas.Count].SayAsync(RateLimitedService.Caller($"load-{worker}-{i}"));
                var elapsed = Stopwatch.GetElapsedTime(started).Ticks;
                for (var longest = Interlocked.Read(ref _longestTicks); elapsed > longest; longest = Interlocked.Read(ref _longestTicks))
                {
                    Interlocked.CompareExchange(ref _longestTicks, elapsed, longest);
                }

                lock (_statuses)
                {
                    _statuses[status] = _statuses.GetValueOrDefault(status) + 1;
                    _completed++;
                    foreach (var waiter in _waiters.Where(w => w.Count <= _completed).ToList())
                    {
                        waiter.Signal.TrySetResult();
                        _waiters.Remove(waiter);
                    }
                }
            }
        }
    }
}
