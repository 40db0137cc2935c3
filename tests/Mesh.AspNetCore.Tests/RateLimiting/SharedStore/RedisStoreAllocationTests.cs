using System.Net;
using Mesh.AspNetCore.RateLimiting.Internal;
using Mesh.AspNetCore.Tests.Reliability;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.RateLimiting.SharedStore;

/// <summary>
/// The cost of a known-spent caller on the shared store. Measured alone, so that no other test's meter listener or
/// garbage counts in this thread's allocations.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public sealed class RedisStoreAllocationTests
{
    [Fact]
    public async Task AdmitAsync_KnownSpentCaller_CompletesSynchronouslyAndAllocatesNothing()
    {
        using var server = SharedStoreServer.Start(SharedStoreServer.Garnet);
        var time = new FakeTimeProvider();
        var services = new ServiceCollection().AddLogging().AddSingleton<TimeProvider>(time);
        services.AddSecureMesh(o =>
        {
            o.ServiceId = "payment-service";
            o.Redis.Configuration = server.Configuration;
            o.Redis.KeyPrefix = server.KeyPrefix;
            o.Redis.TimeoutMs = 5_000;
            o.Resilience.RateLimit.MaxRequests = 1;
            o.Resilience.RateLimit.WindowMs = 60_000;
            o.Resilience.RateLimit.Store = RateLimitStore.Redis;
        });
        await using var provider = services.BuildServiceProvider();
        var gate = provider.GetRequiredService<InboundRateLimitGate>();
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Loopback;
        context.Request.Headers["x-mesh-service-id"] = "order-service";
        Assert.True((await gate.AdmitAsync(context, "grpc")).IsAdmitted);
        var learned = await gate.AdmitAsync(context, "grpc");
        Assert.False(learned.IsAdmitted);
        for (var i = 0; i < 2_000; i++)
        {
            Assert.True(RejectedSynchronously(gate.AdmitAsync(context, "grpc")));
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var synchronous = 0;
        for (var i = 0; i < 10_000; i++)
        {
            synchronous += RejectedSynchronously(gate.AdmitAsync(context, "grpc")) ? 1 : 0;
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(10_000, synchronous);
        Assert.Equal(learned.RetryAfter, (await gate.AdmitAsync(context, "grpc")).RetryAfter);
    }

    private static bool RejectedSynchronously(ValueTask<RateLimitDecision> pending) =>
        pending.IsCompletedSuccessfully && !pending.Result.IsAdmitted;
}
