using Grpc.Core;
using Microsoft.Extensions.Configuration;

namespace Mesh.AspNetCore.Tests.RateLimiting;

/// <summary>
/// <c>Mesh:Resilience:RateLimit:PartitionBy</c> edited while the service runs: the next requests over Kestrel are counted
/// in the other kind of partition, one per caller or one for everybody, without a restart.
/// </summary>
public sealed class PartitionByReloadTests
{
    [Fact]
    public async Task Reload_CallerToGlobal_NewRequestsShareOneQuota()
    {
        var configuration = new ReloadableConfigurationSource(Settings("Caller"));
        await using var service = await RateLimitedService.StartWithJsonAsync(null, b => ((IConfigurationBuilder)b.Configuration).Add(configuration));
        Assert.Equal([StatusCode.OK, StatusCode.OK, StatusCode.ResourceExhausted], await CallsAsync(service, "a", 3));
        Assert.Equal([StatusCode.OK, StatusCode.OK], await CallsAsync(service, "b", 2));

        configuration.Replace(Settings("Global"));

        // One fresh window of 2 for everybody: c and d take it, then nobody gets in, whoever they say they are.
        Assert.Equal([StatusCode.OK], await CallsAsync(service, "c", 1));
        Assert.Equal([StatusCode.OK], await CallsAsync(service, "d", 1));
        Assert.Equal([StatusCode.ResourceExhausted], await CallsAsync(service, "e", 1));
        Assert.Equal([StatusCode.ResourceExhausted], await CallsAsync(service, "f", 1));
        using var http = await service.GetOrdersAsync("g");
        Assert.Equal(System.Net.HttpStatusCode.TooManyRequests, http.StatusCode);
        Assert.Equal(6, service.Calls.Grpc);
    }

    [Fact]
    public async Task Reload_GlobalToCaller_NewRequestsGetAQuotaPerCaller()
    {
        var configuration = new ReloadableConfigurationSource(Settings("Global"));
        await using var service = await RateLimitedService.StartWithJsonAsync(null, b => ((IConfigurationBuilder)b.Configuration).Add(configuration));
        Assert.Equal([StatusCode.OK], await CallsAsync(service, "a", 1));
        Assert.Equal([StatusCode.OK, StatusCode.ResourceExhausted], await CallsAsync(service, "b", 2));

        configuration.Replace(Settings("Caller"));

        // Each caller has a window of its own, b included.
        Assert.Equal([StatusCode.OK, StatusCode.OK, StatusCode.ResourceExhausted], await CallsAsync(service, "b", 3));
        Assert.Equal([StatusCode.OK, StatusCode.OK, StatusCode.ResourceExhausted], await CallsAsync(service, "c", 3));
        using var http = await service.GetOrdersAsync("d");
        Assert.Equal(System.Net.HttpStatusCode.OK, http.StatusCode);

        // Back to Global within the window: the global window that was spent is still spent.
        configuration.Replace(Settings("Global"));
        Assert.Equal([StatusCode.ResourceExhausted], await CallsAsync(service, "e", 1));
        Assert.Equal((6, 1), (service.Calls.Grpc, service.Calls.Http));
    }

    private static async Task<StatusCode[]> CallsAsync(RateLimitedService service, string caller, int count)
    {
        var statuses = new StatusCode[count];
        for (var i = 0; i < count; i++)
        {
            statuses[i] = await service.SayAsync(RateLimitedService.Caller(caller));
        }

        return statuses;
    }

    private static Dictionary<string, string?> Settings(string partitionBy) => new()
    {
        ["Mesh:ServiceId"] = "inventory-service",
        ["Mesh:Resilience:RateLimit:MaxRequests"] = "2",
        ["Mesh:Resilience:RateLimit:WindowMs"] = "60000",
        ["Mesh:Resilience:RateLimit:PartitionBy"] = partitionBy,
    };
}
