using System.Net;
using Grpc.Core;
using Mesh.AspNetCore.RateLimiting.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.RateLimiting.SharedStore;

/// <summary>The gate on the shared store: limits reloaded without a restart.</summary>
public sealed class RedisStoreGateTests
{
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
