using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Mesh.AspNetCore.Tests.RateLimiting.SharedStore;

/// <summary>A bad choice of store or a bad <c>Mesh:Redis</c> stops the host at startup with a message naming the full key.</summary>
public sealed class RedisStoreValidationTests
{
    public static TheoryData<string, string, string> InvalidSettings => new()
    {
        // name, the Mesh section's JSON, the key the message must name
        { "unknown store", """{ "ServiceId": "s", "Resilience": { "RateLimit": { "MaxRequests": 5, "Store": "Disk" } } }""", "Mesh:Resilience:RateLimit:Store" },
        { "unknown store failure mode", """{ "ServiceId": "s", "Resilience": { "RateLimit": { "MaxRequests": 5, "OnStoreFailure": "Retry" } } }""", "Mesh:Resilience:RateLimit:OnStoreFailure" },
        { "redis store without configuration", """{ "ServiceId": "s", "Resilience": { "RateLimit": { "MaxRequests": 5, "Store": "Redis" } } }""", "Mesh:Redis:Configuration" },
        { "redis store with empty configuration", """{ "ServiceId": "s", "Redis": { "Configuration": "" }, "Resilience": { "RateLimit": { "MaxRequests": 5, "Store": "Redis" } } }""", "Mesh:Redis:Configuration" },
        { "configuration with an unknown option", """{ "ServiceId": "s", "Redis": { "Configuration": "localhost:6379,colour=blue" }, "Resilience": { "RateLimit": { "MaxRequests": 5, "Store": "Redis" } } }""", "Mesh:Redis:Configuration" },
        { "configuration with a bad value", """{ "ServiceId": "s", "Redis": { "Configuration": "localhost:6379,abortConnect=maybe" }, "Resilience": { "RateLimit": { "MaxRequests": 5, "Store": "Redis" } } }""", "Mesh:Redis:Configuration" },
        { "configuration without an endpoint", """{ "ServiceId": "s", "Redis": { "Configuration": "password=secret" }, "Resilience": { "RateLimit": { "MaxRequests": 5, "Store": "Redis" } } }""", "Mesh:Redis:Configuration" },
        { "zero timeout", """{ "ServiceId": "s", "Redis": { "Configuration": "localhost:6379", "TimeoutMs": 0 } }""", "Mesh:Redis:TimeoutMs" },
        { "timeout above ten seconds", """{ "ServiceId": "s", "Redis": { "Configuration": "localhost:6379", "TimeoutMs": 10001 } }""", "Mesh:Redis:TimeoutMs" },
        { "timeout not a number", """{ "ServiceId": "s", "Redis": { "TimeoutMs": "soon" } }""", "Mesh:Redis:TimeoutMs" },
        { "key prefix too long", $$"""{ "ServiceId": "s", "Redis": { "KeyPrefix": "{{new string('k', 129)}}" } }""", "Mesh:Redis:KeyPrefix" },
        { "misspelt redis key", """{ "ServiceId": "s", "Redis": { "Timeout": 100 } }""", "Mesh:Redis:Timeout" },
    };

    [Theory]
    [MemberData(nameof(InvalidSettings))]
    public async Task StartAsync_InvalidSetting_FailsNamingTheKey(string name, string meshJson, string key)
    {
        using var host = BuildHost($$"""{ "Mesh": {{meshJson}} }""");

        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.True(error.Message.Contains(key, StringComparison.Ordinal), $"{name}: '{error.Message}' does not name {key}");
    }

    [Fact]
    public async Task StartAsync_RedisStoreWithEveryKey_Starts()
    {
        using var host = BuildHost("""
            {
              "Mesh": {
                "ServiceId": "s",
                "Redis": { "Configuration": "127.0.0.1:1,password=secret", "KeyPrefix": "shop:", "TimeoutMs": 100 },
                "Resilience": { "RateLimit": { "MaxRequests": 5, "Store": "Redis", "OnStoreFailure": "Reject" } }
              }
            }
            """);

        await host.StartAsync(TestContext.Current.CancellationToken);
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task StartAsync_RedisStoreWithRegisteredMultiplexerAndNoConfiguration_Starts()
    {
        var configuration = ConfigurationOptions.Parse("127.0.0.1:1");
        configuration.AbortOnConnectFail = false;
        await using var multiplexer = await ConnectionMultiplexer.ConnectAsync(configuration);
        using var host = BuildHost(
            """{ "Mesh": { "ServiceId": "s", "Resilience": { "RateLimit": { "MaxRequests": 5, "Store": "Redis" } } } }""",
            services => services.AddSingleton<IConnectionMultiplexer>(multiplexer));

        await host.StartAsync(TestContext.Current.CancellationToken);
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    private static IHost BuildHost(string json, Action<IServiceCollection>? configureServices = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddConfiguration(new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build());
        builder.Logging.ClearProviders();
        configureServices?.Invoke(builder.Services);
        builder.Services.AddSecureMesh();
        return builder.Build();
    }
}
