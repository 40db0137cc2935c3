using System.Net;
using Grpc.Core;
using Mesh.AspNetCore.RateLimiting.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.RateLimiting.SharedStore;

/// <summary>The gate on the shared store: the cost of a known-spent caller, and limits reloaded without a restart.</summary>
public sealed class RedisStoreGateTests
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
        for (var i = 0; i < 100; i++)
        {
            _ = gate.AdmitAsync(context, "grpc");
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

    [Theory]
    [MemberData(nameof(SharedStoreServer.Kinds), MemberType = typeof(SharedStoreServer))]
    public async Task Say_MaxRequestsRaisedByReload_SpentCallerAdmittedWithoutRestart(string store)
    {
        using var server = SharedStoreServer.Start(store);
        var settings = new Dictionary<string, string?>
        {
            ["Mesh:ServiceId"] = "payment-service",
            ["Mesh:Redis:Configuration"] = server.Configuration,
            ["Mesh:Redis:KeyPrefix"] = server.KeyPrefix,
            ["Mesh:Redis:TimeoutMs"] = "3000",
            ["Mesh:Resilience:RateLimit:MaxRequests"] = "2",
            ["Mesh:Resilience:RateLimit:WindowMs"] = "60000",
            ["Mesh:Resilience:RateLimit:Store"] = "Redis",
        };
        var source = new ReloadableConfigurationSource(settings);
        await using var service = await RateLimitedService.StartWithJsonAsync(null, b =>
        {
            b.Services.AddSingleton(TimeProvider.System);
            ((IConfigurationBuilder)b.Configuration).Add(source);
        });
        var caller = RateLimitedService.Caller("order-service");
        Assert.Equal([StatusCode.OK, StatusCode.OK, StatusCode.ResourceExhausted],
            [await service.SayAsync(caller), await service.SayAsync(caller), await service.SayAsync(caller)]);

        source.Replace(new Dictionary<string, string?>(settings) { ["Mesh:Resilience:RateLimit:MaxRequests"] = "4" });

        // The store counted the rejected call too (3 so far): one more is admitted under the new limit, then none.
        Assert.Equal([StatusCode.OK, StatusCode.ResourceExhausted],
            [await service.SayAsync(caller), await service.SayAsync(caller)]);
    }
}
