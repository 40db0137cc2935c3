using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Configuration;

/// <summary>The settings of safe retries (<c>OnlyIdempotent</c>, <c>IdempotentMethods</c>, <c>Budget</c>) at startup.</summary>
public sealed class RetrySafetyValidationTests
{
    public static TheoryData<string, string, string> InvalidSettings => new()
    {
        // name, Mesh:Resilience:Retry as JSON, the key the message must name
        { "method without a slash", """{ "IdempotentMethods": [ "payment.Payment.Charge" ] }""", "Mesh:Resilience:Retry:IdempotentMethods:0" },
        { "second entry with two slashes", """{ "IdempotentMethods": [ "payment.Payment/*", "/payment.Payment/Charge" ] }""", "Mesh:Resilience:Retry:IdempotentMethods:1" },
        { "empty method", """{ "IdempotentMethods": [ "payment.Payment/" ] }""", "Mesh:Resilience:Retry:IdempotentMethods:0" },
        { "empty service", """{ "IdempotentMethods": [ "/Charge" ] }""", "Mesh:Resilience:Retry:IdempotentMethods:0" },
        { "space in the name", """{ "IdempotentMethods": [ "payment.Payment/Charge card" ] }""", "Mesh:Resilience:Retry:IdempotentMethods:0" },
        { "wildcard in the service", """{ "IdempotentMethods": [ "payment.*/Charge" ] }""", "Mesh:Resilience:Retry:IdempotentMethods:0" },
        { "methods as a single value", """{ "IdempotentMethods": { "Charge": true } }""", "Mesh:Resilience:Retry:IdempotentMethods:Charge" },
        { "only idempotent not a boolean", """{ "OnlyIdempotent": "sometimes" }""", "Mesh:Resilience:Retry:OnlyIdempotent" },
        { "negative ratio", """{ "Budget": { "RetryRatio": -0.1 } }""", "Mesh:Resilience:Retry:Budget:RetryRatio" },
        { "huge ratio", """{ "Budget": { "RetryRatio": 1001 } }""", "Mesh:Resilience:Retry:Budget:RetryRatio" },
        { "ratio not a number", """{ "Budget": { "RetryRatio": "NaN" } }""", "Mesh:Resilience:Retry:Budget:RetryRatio" },
        { "negative allowance", """{ "Budget": { "MinRetriesPerSecond": -1 } }""", "Mesh:Resilience:Retry:Budget:MinRetriesPerSecond" },
        { "window below a second", """{ "Budget": { "WindowMs": 999 } }""", "Mesh:Resilience:Retry:Budget:WindowMs" },
        { "window above ten minutes", """{ "Budget": { "WindowMs": 600001 } }""", "Mesh:Resilience:Retry:Budget:WindowMs" },
        { "misspelt budget key", """{ "Budget": { "RetryRatios": 0.1 } }""", "Mesh:Resilience:Retry:Budget:RetryRatios" },
        { "misspelt retry key", """{ "OnlyIdempotents": true }""", "Mesh:Resilience:Retry:OnlyIdempotents" },
    };

    [Theory]
    [MemberData(nameof(InvalidSettings))]
    public async Task StartAsync_InvalidRetrySafetySetting_FailsNamingTheKey(string name, string retryJson, string key)
    {
        using var host = BuildHost(retryJson);

        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.True(error.Message.Contains(key, StringComparison.Ordinal), $"{name}: '{error.Message}' does not name {key}");
    }

    [Fact]
    public async Task StartAsync_EverySafeRetrySetting_Starts()
    {
        using var host = BuildHost("""
            { "onlyIdempotent": true, "idempotentMethods": [ "payment.Payment/GetStatus", "inventory.v1.Inventory/*", "_x._y/_Z9" ],
              "budget": { "enabled": true, "retryRatio": 0.1, "minRetriesPerSecond": 0, "windowMs": 1000 } }
            """);

        await host.StartAsync(TestContext.Current.CancellationToken);
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public void AddSecureMesh_NoRetrySafetySettings_KeepsTheSeedBehaviourAndTheDocumentedBudget()
    {
        using var host = BuildHost("{}");

        var retry = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<SecureMeshOptions>>().Value.Resilience.Retry;

        Assert.False(retry.OnlyIdempotent);
        Assert.Null(retry.IdempotentMethods);
        Assert.True(retry.Budget.Enabled);
        Assert.Equal(0.2, retry.Budget.RetryRatio);
        Assert.Equal(10, retry.Budget.MinRetriesPerSecond);
        Assert.Equal(10_000, retry.Budget.WindowMs);
    }

    private static IHost BuildHost(string retryJson)
    {
        var json = $$"""{ "Mesh": { "ServiceId": "order-service", "Resilience": { "Retry": {{retryJson}} } } }""";
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddConfiguration(new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build());
        builder.Logging.ClearProviders();
        builder.Services.AddSecureMesh();
        return builder.Build();
    }
}
