using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Configuration;

/// <summary>Invalid <c>Mesh</c> settings stop the host at startup with a message that names the full key.</summary>
public sealed class StartupValidationTests
{
    public static TheoryData<string, string, string> InvalidSettings => new()
    {
        // name, the Mesh section's JSON, the key the message must name
        { "missing service id", """{ "Port": 5000 }""", "Mesh:ServiceId" },
        { "blank service id", """{ "ServiceId": "  " }""", "Mesh:ServiceId" },
        { "service id with a space", """{ "ServiceId": "order service" }""", "Mesh:ServiceId" },
        { "service id with a control character", """{ "ServiceId": "order\u0001" }""", "Mesh:ServiceId" },
        { "port zero", """{ "ServiceId": "s", "Port": 0 }""", "Mesh:Port" },
        { "port above 65535", """{ "ServiceId": "s", "Port": 70000 }""", "Mesh:Port" },
        { "listen address not an address", """{ "ServiceId": "s", "ListenAddress": "everywhere" }""", "Mesh:ListenAddress" },
        { "zero max requests", """{ "ServiceId": "s", "Resilience": { "RateLimit": { "MaxRequests": 0 } } }""", "Mesh:Resilience:RateLimit:MaxRequests" },
        { "negative max requests", """{ "ServiceId": "s", "Resilience": { "RateLimit": { "MaxRequests": -5 } } }""", "Mesh:Resilience:RateLimit:MaxRequests" },
        { "enabled without max requests", """{ "ServiceId": "s", "Resilience": { "RateLimit": { "Enabled": true } } }""", "Mesh:Resilience:RateLimit:MaxRequests" },
        { "zero window", """{ "ServiceId": "s", "Resilience": { "RateLimit": { "MaxRequests": 5, "WindowMs": 0 } } }""", "Mesh:Resilience:RateLimit:WindowMs" },
        { "window longer than a day", """{ "ServiceId": "s", "Resilience": { "RateLimit": { "MaxRequests": 5, "WindowMs": 86400001 } } }""", "Mesh:Resilience:RateLimit:WindowMs" },
        { "unknown partition", """{ "ServiceId": "s", "Resilience": { "RateLimit": { "MaxRequests": 5, "PartitionBy": "Tenant" } } }""", "Mesh:Resilience:RateLimit:PartitionBy" },
        { "max requests not a number", """{ "ServiceId": "s", "Resilience": { "RateLimit": { "MaxRequests": "many" } } }""", "Mesh:Resilience:RateLimit:MaxRequests" },
        { "zero failure threshold", """{ "ServiceId": "s", "Resilience": { "CircuitBreaker": { "FailureThreshold": 0 } } }""", "Mesh:Resilience:CircuitBreaker:FailureThreshold" },
        { "negative success threshold", """{ "ServiceId": "s", "Resilience": { "CircuitBreaker": { "SuccessThreshold": -1 } } }""", "Mesh:Resilience:CircuitBreaker:SuccessThreshold" },
        { "zero breaker timeout", """{ "ServiceId": "s", "Resilience": { "CircuitBreaker": { "Timeout": 0 } } }""", "Mesh:Resilience:CircuitBreaker:Timeout" },
        { "OK as a failure status", """{ "ServiceId": "s", "Resilience": { "CircuitBreaker": { "FailureStatusCodes": [ "OK" ] } } }""", "Mesh:Resilience:CircuitBreaker:FailureStatusCodes:0" },
        { "negative max attempts", """{ "ServiceId": "s", "Resilience": { "Retry": { "MaxAttempts": -1 } } }""", "Mesh:Resilience:Retry:MaxAttempts" },
        { "too many attempts", """{ "ServiceId": "s", "Resilience": { "Retry": { "MaxAttempts": 101 } } }""", "Mesh:Resilience:Retry:MaxAttempts" },
        { "zero initial delay", """{ "ServiceId": "s", "Resilience": { "Retry": { "InitialDelay": 0 } } }""", "Mesh:Resilience:Retry:InitialDelay" },
        { "negative max delay", """{ "ServiceId": "s", "Resilience": { "Retry": { "MaxDelay": -100 } } }""", "Mesh:Resilience:Retry:MaxDelay" },
        { "initial delay above max delay", """{ "ServiceId": "s", "Resilience": { "Retry": { "InitialDelay": 5000, "MaxDelay": 1000 } } }""", "Mesh:Resilience:Retry:InitialDelay" },
        { "unknown retryable status", """{ "ServiceId": "s", "Resilience": { "Retry": { "RetryableStatusCodes": [ "Flaky" ] } } }""", "Mesh:Resilience:Retry:RetryableStatusCodes" },
        { "discovery entry without id", """{ "ServiceId": "s", "Discovery": { "Services": [ { "Host": "localhost", "Port": 5001 } ] } }""", "Mesh:Discovery:Services:0:Id" },
        { "duplicate discovery id", """{ "ServiceId": "s", "Discovery": { "Services": [ { "Id": "a", "Host": "localhost", "Port": 5001 }, { "Id": "a", "Host": "localhost", "Port": 5002 } ] } }""", "Mesh:Discovery:Services:1:Id" },
        { "discovery host empty", """{ "ServiceId": "s", "Discovery": { "Services": [ { "Id": "a", "Host": "", "Port": 5001 } ] } }""", "Mesh:Discovery:Services:0:Host" },
        { "discovery port zero", """{ "ServiceId": "s", "Discovery": { "Services": [ { "Id": "a", "Host": "localhost", "Port": 0 } ] } }""", "Mesh:Discovery:Services:0:Port" },
        { "discovery port out of range", """{ "ServiceId": "s", "Discovery": { "Services": [ { "Id": "a", "Host": "localhost", "Port": 65536 } ] } }""", "Mesh:Discovery:Services:0:Port" },
        { "misspelt top-level key", """{ "ServiceId": "s", "Prot": 5000 }""", "Mesh:Prot" },
        { "misspelt rate-limit key", """{ "ServiceId": "s", "Resilience": { "RateLimit": { "MaxRequest": 10 } } }""", "Mesh:Resilience:RateLimit:MaxRequest" },
        { "misspelt pattern section", """{ "ServiceId": "s", "Resilience": { "CircuitBreakers": { "Timeout": 10 } } }""", "Mesh:Resilience:CircuitBreakers" },
        { "unknown discovery entry key", """{ "ServiceId": "s", "Discovery": { "Services": [ { "Id": "a", "Host": "localhost", "Port": 5001, "Tls": true } ] } }""", "Mesh:Discovery:Services:0:Tls" },
        { "object where a value belongs", """{ "ServiceId": "s", "Resilience": { "Retry": { "MaxAttempts": { "Value": 3 } } } }""", "Mesh:Resilience:Retry:MaxAttempts" },
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
    public async Task StartAsync_CamelCaseKeys_AreNotUnknown()
    {
        using var host = BuildHost("""
            { "mesh": { "serviceId": "order-service", "listenAddress": "127.0.0.1",
              "resilience": { "rateLimit": { "maxRequests": 1, "windowMs": 1000, "partitionBy": "global", "enabled": true } },
              "discovery": { "services": [ { "id": "a", "host": "127.0.0.1", "port": 5001 } ] } } }
            """);

        await host.StartAsync(TestContext.Current.CancellationToken);
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task StartAsync_SeveralInvalidSettings_NamesEveryKey()
    {
        using var host = BuildHost("""{ "Mesh": { "ServiceId": "", "Resilience": { "Retry": { "MaxAttempts": -1 }, "CircuitBreaker": { "Timeout": -1 } } } }""");

        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("Mesh:ServiceId", error.Message, StringComparison.Ordinal);
        Assert.Contains("Mesh:Resilience:Retry:MaxAttempts", error.Message, StringComparison.Ordinal);
        Assert.Contains("Mesh:Resilience:CircuitBreaker:Timeout", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_CustomSection_NamesKeysUnderThatSection()
    {
        var configuration = Configuration("""{ "Services": { "Orders": { "ServiceId": "o", "Port": -1 } } }""");
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSecureMesh(configuration.GetSection("Services:Orders"));
        using var host = builder.Build();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("Services:Orders:Port", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_InvalidValueSetInCode_FailsNamingTheKey()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSecureMesh(o =>
        {
            o.ServiceId = "s";
            o.Resilience.CircuitBreaker.FailureThreshold = 0;
        });
        using var host = builder.Build();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("Mesh:Resilience:CircuitBreaker:FailureThreshold", error.Message, StringComparison.Ordinal);
    }

    private static IHost BuildHost(string json)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddConfiguration(Configuration(json));
        builder.Logging.ClearProviders();
        builder.Services.AddSecureMesh();
        return builder.Build();
    }

    private static IConfigurationRoot Configuration(string json) =>
        new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
}
