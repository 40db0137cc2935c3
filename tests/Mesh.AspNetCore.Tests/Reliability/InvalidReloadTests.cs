using Grpc.Core;
using Mesh.AspNetCore.Tests.RateLimiting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Reliability;

/// <summary>
/// An edit of appsettings.json that is invalid, while the service serves calls over Kestrel: the service keeps running
/// on the last valid configuration, and says which key is wrong. (The option values themselves:
/// <c>ConfigurationReloadTests</c>; the table of invalid settings at startup: <c>StartupValidationTests</c>.)
/// </summary>
[Collection(ReliabilityCollection.Name)]
public sealed class InvalidReloadTests
{
    [Theory]
    [InlineData("0")]
    [InlineData("-3")]
    [InlineData("plenty")]
    public async Task Reload_InvalidMaxRequests_LastValidLimitKeepsBeingEnforcedAndTheKeyIsLogged(string invalid)
    {
        var configuration = new ReloadableConfigurationSource(Settings("3"));
        await using var service = await RateLimitedService.StartWithJsonAsync(null, b => ((IConfigurationBuilder)b.Configuration).Add(configuration));
        StatusCode[] before = [await service.SayAsync(), await service.SayAsync()];

        configuration.Replace(Settings(invalid));
        StatusCode[] after = [await service.SayAsync(), await service.SayAsync()];
        configuration.Replace(Settings("5"));
        StatusCode[] fixedAgain = [await service.SayAsync(), await service.SayAsync(), await service.SayAsync()];

        Assert.Equal([StatusCode.OK, StatusCode.OK], before);
        Assert.Equal([StatusCode.OK, StatusCode.ResourceExhausted], after);       // still 3 per window, not off, not 0
        Assert.Equal([StatusCode.OK, StatusCode.OK, StatusCode.ResourceExhausted], fixedAgain); // 5 per window
        var error = Assert.Single(service.Host.Logs.Entries, e => e.Level >= LogLevel.Error);
        Assert.Equal(1001, error.EventId.Id);
        Assert.Contains("Mesh:Resilience:RateLimit:MaxRequests", error.Message, StringComparison.Ordinal);
    }

    private static Dictionary<string, string?> Settings(string maxRequests) => new()
    {
        ["Mesh:ServiceId"] = "inventory-service",
        ["Mesh:Resilience:RateLimit:MaxRequests"] = maxRequests,
        ["Mesh:Resilience:RateLimit:WindowMs"] = "60000",
    };
}
