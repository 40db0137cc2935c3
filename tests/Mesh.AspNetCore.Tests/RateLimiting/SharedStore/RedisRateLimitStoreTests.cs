using System.Net;
using Grpc.Core;
using Mesh.AspNetCore.RateLimiting.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace Mesh.AspNetCore.Tests.RateLimiting.SharedStore;

/// <summary>
/// One quota across replicas: real Kestrel replicas of a service sharing one real store (embedded Garnet, and the server
/// of <c>MESH_TEST_REDIS</c> when set), called over real gRPC and HTTP.
/// </summary>
public sealed class RedisRateLimitStoreTests
{
    [Theory]
    [MemberData(nameof(SharedStoreServer.Kinds), MemberType = typeof(SharedStoreServer))]
    public async Task Say_ThreeReplicas64ConcurrentCallers_EachCallerAdmittedExactlyMaxRequests(string store)
    {
        using var server = SharedStoreServer.Start(store);
        await using var replicas = await StoreReplicas.StartAsync(3, server.Json("payment-service", """{ "MaxRequests": 5, "WindowMs": 60000, "Store": "Redis" }"""));
        var callers = Enumerable.Range(0, 64).Select(i => $"caller-{i}").ToArray();

        var results = await replicas.CallAsync(callers, callsPerCaller: 9);

        foreach (var (caller, statuses) in results)
        {
            Assert.True(5 == statuses.Count(s => s == StatusCode.OK), $"{caller}: {string.Join(", ", statuses)}");
            Assert.Equal(4, statuses.Count(s => s == StatusCode.ResourceExhausted));
        }

        Assert.Equal(64 * 5, replicas.Replicas.Sum(r => r.Calls.Grpc));
    }

    [Theory]
    [MemberData(nameof(SharedStoreServer.Kinds), MemberType = typeof(SharedStoreServer))]
    public async Task Say_TwoReplicasOneCallerAt64Concurrent_AdmitExactlyMaxRequests(string store)
    {
        using var server = SharedStoreServer.Start(store);
        await using var replicas = await StoreReplicas.StartAsync(2, server.Json("payment-service", """{ "MaxRequests": 50, "WindowMs": 60000, "Store": "Redis" }"""));
        var caller = RateLimitedService.Caller("order-service");
        var admitted = 0;

        await Parallel.ForEachAsync(
            Enumerable.Range(0, 200),
            new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = TestContext.Current.CancellationToken },
            async (i, _) =>
            {
                if (await replicas[i % 2].SayAsync(caller) == StatusCode.OK)
                {
                    Interlocked.Increment(ref admitted);
                }
            });

        Assert.Equal(50, admitted);
        Assert.Equal(50, replicas[0].Calls.Grpc + replicas[1].Calls.Grpc);
    }

    [Theory]
    [MemberData(nameof(SharedStoreServer.Kinds), MemberType = typeof(SharedStoreServer))]
    public async Task Say_RejectedOnAnotherReplica_RetryAfterIsTheTimeLeftInTheSharedWindow(string store)
    {
        using var server = SharedStoreServer.Start(store);
        await using var multiplexer = await ConnectionMultiplexer.ConnectAsync(server.Configuration);
        await using var replicas = await StoreReplicas.StartAsync(2, server.Json("payment-service", """{ "MaxRequests": 1, "WindowMs": 30000, "Store": "Redis" }"""));
        var caller = RateLimitedService.Caller("order-service");
        Assert.Equal(StatusCode.OK, await replicas[0].SayAsync(caller));

        // The window opened in the store with the caller's first request. 18 of its 30 seconds pass on the store's
        // clock: the partition's key has 12 seconds left to live.
        var key = new RedisKey(server.KeyPrefix + "payment-service:{service:order-service}");
        var database = multiplexer.GetDatabase();
        Assert.InRange((await database.KeyTimeToLiveAsync(key))!.Value.TotalMilliseconds, 1, 30_000);
        Assert.True(await database.KeyExpireAsync(key, TimeSpan.FromSeconds(12)));

        var (status, error) = await replicas[1].SayWithErrorAsync(caller);

        Assert.Equal(StatusCode.ResourceExhausted, status);
        var pushbackMs = long.Parse(error!.Trailers.GetValue("grpc-retry-pushback-ms")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(pushbackMs, 1, 12_000);
        var retryAfter = error.Trailers.GetValue("retry-after");
        Assert.Equal((pushbackMs + 999) / 1000, long.Parse(retryAfter!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal($"Rate limit exceeded. Retry after {retryAfter}s", error.Status.Detail);
    }

    [Theory]
    [MemberData(nameof(SharedStoreServer.Kinds), MemberType = typeof(SharedStoreServer))]
    public async Task Say_SharedWindowEnds_CallerAdmittedAgainOnEveryReplica(string store)
    {
        // The replicas remember a spent caller on their own clock, a fake one here; the window itself ends in the store.
        using var server = SharedStoreServer.Start(store);
        await using var multiplexer = await ConnectionMultiplexer.ConnectAsync(server.Configuration);
        var time = new FakeTimeProvider();
        await using var replicas = await StoreReplicas.StartAsync(
            2,
            server.Json("payment-service", """{ "MaxRequests": 2, "WindowMs": 3000, "Store": "Redis" }"""),
            b => b.Services.AddSingleton<TimeProvider>(time));
        await replicas.CallAsync(["warm-up"], 2);
        var caller = RateLimitedService.Caller("order-service");
        Assert.Equal(StatusCode.OK, await replicas[0].SayAsync(caller));
        Assert.Equal(StatusCode.OK, await replicas[1].SayAsync(caller));
        var (status, error) = await replicas[0].SayWithErrorAsync(caller);
        Assert.Equal(StatusCode.ResourceExhausted, status);
        Assert.Equal(StatusCode.ResourceExhausted, await replicas[1].SayAsync(caller));

        var pushbackMs = int.Parse(error!.Trailers.GetValue("grpc-retry-pushback-ms")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(pushbackMs, 1, 3000);

        // The store ends the window when the partition's key, which lives for the window's 3 seconds, expires.
        var key = new RedisKey(server.KeyPrefix + "payment-service:{service:order-service}");
        var database = multiplexer.GetDatabase();
        Assert.InRange((await database.KeyTimeToLiveAsync(key))!.Value.TotalMilliseconds, 1, 3000);
        Assert.True(await database.KeyExpireAsync(key, DateTime.UtcNow.AddDays(-1)));
        Assert.False(await database.KeyExistsAsync(key));

        // Until the replicas' clock reaches the end they were told, the caller is still spent there, without asking.
        Assert.Equal(StatusCode.ResourceExhausted, await replicas[0].SayAsync(caller));
        time.Advance(TimeSpan.FromMilliseconds(pushbackMs));

        // A new window: two more on any replica, the third rejected.
        Assert.Equal(StatusCode.OK, await replicas[1].SayAsync(caller));
        Assert.Equal(StatusCode.OK, await replicas[0].SayAsync(caller));
        Assert.Equal(StatusCode.ResourceExhausted, await replicas[1].SayAsync(caller));
    }

    [Theory]
    [MemberData(nameof(SharedStoreServer.Kinds), MemberType = typeof(SharedStoreServer))]
    public async Task Say_GrpcOnOneReplicaHttpOnAnother_ShareOneQuota(string store)
    {
        using var server = SharedStoreServer.Start(store);
        await using var replicas = await StoreReplicas.StartAsync(2, server.Json("payment-service", """{ "MaxRequests": 3, "WindowMs": 60000, "Store": "Redis" }"""));

        Assert.Equal(StatusCode.OK, await replicas[0].SayAsync(RateLimitedService.Caller("order-service")));
        Assert.Equal(HttpStatusCode.OK, (await replicas[1].GetOrdersAsync("order-service")).StatusCode);
        Assert.Equal(StatusCode.OK, await replicas[0].SayAsync(RateLimitedService.Caller("order-service")));
        using var rejected = await replicas[1].GetOrdersAsync("order-service");

        Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
        Assert.InRange(int.Parse(rejected.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture), 59, 60);
        Assert.Equal(1, replicas[1].Calls.Http);
    }

    [Theory]
    [MemberData(nameof(SharedStoreServer.Kinds), MemberType = typeof(SharedStoreServer))]
    public async Task Say_PartitionByGlobal_OneQuotaForEveryCallerOnEveryReplica(string store)
    {
        using var server = SharedStoreServer.Start(store);
        await using var replicas = await StoreReplicas.StartAsync(2, server.Json("payment-service", """{ "MaxRequests": 3, "WindowMs": 60000, "Store": "Redis", "PartitionBy": "Global" }"""));

        StatusCode[] statuses =
        [
            await replicas[0].SayAsync(RateLimitedService.Caller("a")),
            await replicas[1].SayAsync(RateLimitedService.Caller("b")),
            await replicas[0].SayAsync(),
            await replicas[1].SayAsync(RateLimitedService.Caller("c")),
        ];

        Assert.Equal([StatusCode.OK, StatusCode.OK, StatusCode.OK, StatusCode.ResourceExhausted], statuses);
    }

    [Theory]
    [MemberData(nameof(SharedStoreServer.Kinds), MemberType = typeof(SharedStoreServer))]
    public async Task Say_TwoServiceIdsOnOneStore_EachServiceHasItsOwnQuota(string store)
    {
        using var server = SharedStoreServer.Start(store);
        await using var payments = await StoreReplicas.StartAsync(2, server.Json("payment-service", """{ "MaxRequests": 2, "WindowMs": 60000, "Store": "Redis" }"""));
        await using var inventory = await StoreReplicas.StartAsync(2, server.Json("inventory-service", """{ "MaxRequests": 2, "WindowMs": 60000, "Store": "Redis" }"""));

        var toPayments = await payments.CallAsync(["order-service"], 3);
        var toInventory = await inventory.CallAsync(["order-service"], 3);

        StatusCode[] expected = [StatusCode.OK, StatusCode.OK, StatusCode.ResourceExhausted];
        Assert.Equal(expected, toPayments["order-service"]);
        Assert.Equal(expected, toInventory["order-service"]);
    }

    [Theory]
    [MemberData(nameof(SharedStoreServer.Kinds), MemberType = typeof(SharedStoreServer))]
    public async Task Say_ApplicationRegisteredMultiplexer_IsUsedWithoutConfiguration(string store)
    {
        using var server = SharedStoreServer.Start(store);
        await using var multiplexer = await ConnectionMultiplexer.ConnectAsync(server.Configuration);
        var json = $$"""{ "Mesh": { "ServiceId": "payment-service", "Redis": { "KeyPrefix": "{{server.KeyPrefix}}" }, "Resilience": { "RateLimit": { "MaxRequests": 2, "WindowMs": 60000, "Store": "Redis" } } } }""";
        await using var replicas = await StoreReplicas.StartAsync(2, json, b => b.Services.AddSingleton<IConnectionMultiplexer>(multiplexer));

        var statuses = await replicas.CallAsync(["order-service"], 3);

        Assert.Equal([StatusCode.OK, StatusCode.OK, StatusCode.ResourceExhausted], statuses["order-service"]);
        var keys = multiplexer.GetServers()[0].Keys(pattern: server.KeyPrefix + "*").Select(k => k.ToString()).ToArray();
        Assert.Equal([server.KeyPrefix + "payment-service:{service:order-service}"], keys);
    }

    [Theory]
    [MemberData(nameof(SharedStoreServer.Kinds), MemberType = typeof(SharedStoreServer))]
    public async Task Say_EachDecision_OneRoundTripAtMostAndNoneForAKnownSpentCaller(string store)
    {
        using var server = SharedStoreServer.Start(store);
        await using var multiplexer = await ConnectionMultiplexer.ConnectAsync(server.Configuration);
        var json = $$"""{ "Mesh": { "ServiceId": "payment-service", "Redis": { "KeyPrefix": "{{server.KeyPrefix}}" }, "Resilience": { "RateLimit": { "MaxRequests": 3, "WindowMs": 60000, "Store": "Redis" } } } }""";
        await using var replicas = await StoreReplicas.StartAsync(1, json, b => b.Services.AddSingleton<IConnectionMultiplexer>(multiplexer));
        var caller = RateLimitedService.Caller("order-service");
        Assert.Equal(StatusCode.OK, await replicas[0].SayAsync(RateLimitedService.Caller("warm-up")));
        var before = multiplexer.GetCounters().Interactive.OperationCount;

        // Three admitted and the first rejection: one script call each.
        StatusCode[] statuses = [await replicas[0].SayAsync(caller), await replicas[0].SayAsync(caller), await replicas[0].SayAsync(caller), await replicas[0].SayAsync(caller)];
        var asked = multiplexer.GetCounters().Interactive.OperationCount - before;

        // The replica now knows the caller is spent: no round trip at all.
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(StatusCode.ResourceExhausted, await replicas[0].SayAsync(caller));
        }

        Assert.Equal([StatusCode.OK, StatusCode.OK, StatusCode.OK, StatusCode.ResourceExhausted], statuses);
        Assert.Equal(4, asked);
        Assert.Equal(4, multiplexer.GetCounters().Interactive.OperationCount - before);
    }

    [Fact]
    public async Task Say_KnownSpentCaller_RejectedWithoutAskingTheStore()
    {
        using var server = SharedStoreServer.Start(SharedStoreServer.Garnet);
        await using var replicas = await StoreReplicas.StartAsync(1, server.Json("payment-service", """{ "MaxRequests": 1, "WindowMs": 60000, "Store": "Redis", "OnStoreFailure": "Allow" }"""));
        var caller = RateLimitedService.Caller("order-service");
        Assert.Equal(StatusCode.OK, await replicas[0].SayAsync(caller));
        Assert.Equal(StatusCode.ResourceExhausted, await replicas[0].SayAsync(caller));

        // With the store down, a request that asked it would be allowed (OnStoreFailure: Allow) and counted as a failure.
        server.Kill();
        var (status, error) = await replicas[0].SayWithErrorAsync(caller);

        Assert.Equal(StatusCode.ResourceExhausted, status);
        Assert.InRange(int.Parse(error!.Trailers.GetValue("retry-after")!, System.Globalization.CultureInfo.InvariantCulture), 59, 60);
        Assert.Equal(0, replicas[0].Host.Services.GetRequiredService<RateLimitStoreMetrics>().Failures);
        Assert.Equal(StatusCode.OK, await replicas[0].SayAsync(RateLimitedService.Caller("another-service")));
        Assert.Equal(1, replicas[0].Host.Services.GetRequiredService<RateLimitStoreMetrics>().Failures);
    }
}
