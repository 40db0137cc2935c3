using Microsoft.Extensions.DependencyInjection;
using Mesh.AspNetCore.Tests.Resilience;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Tests.Discovery;

/// <summary>Discovery entries with several endpoints or a DNS name, and outlier detection: bad values stop the host naming the key.</summary>
public sealed class DiscoveryEntryValidationTests
{
    public static TheoryData<string, string, string, string> InvalidEntries => new()
    {
        // name, the discovery entry's JSON, Mesh:Resilience's JSON, the message that must appear
        { "both Host and Endpoints", """{ "Id": "inventory-service", "Host": "127.0.0.1", "Port": 5001, "Endpoints": [ { "Host": "127.0.0.1", "Port": 5002 } ] }""", "{}",
            "Mesh:Discovery:Services:0 sets both Host/Port and Endpoints" },
        { "Port beside Endpoints", """{ "Id": "inventory-service", "Port": 5001, "Endpoints": [ { "Host": "127.0.0.1", "Port": 5002 } ] }""", "{}",
            "Mesh:Discovery:Services:0 sets both Host/Port and Endpoints" },
        { "neither Host nor Endpoints", """{ "Id": "inventory-service" }""", "{}",
            "Mesh:Discovery:Services:0 needs an endpoint: set Mesh:Discovery:Services:0:Host and Mesh:Discovery:Services:0:Port, or Mesh:Discovery:Services:0:Endpoints." },
        { "empty Endpoints", """{ "Id": "inventory-service", "Endpoints": [] }""", "{}",
            "Mesh:Discovery:Services:0 needs an endpoint" },
        { "endpoint port zero", """{ "Id": "inventory-service", "Endpoints": [ { "Host": "127.0.0.1", "Port": 5001 }, { "Host": "127.0.0.1", "Port": 0 } ] }""", "{}",
            "Mesh:Discovery:Services:0:Endpoints:1:Port must be between 1 and 65535 (was 0)." },
        { "endpoint without host", """{ "Id": "inventory-service", "Endpoints": [ { "Port": 5001 } ] }""", "{}",
            "Mesh:Discovery:Services:0:Endpoints:0:Host must be a host name or IP address" },
        { "endpoint host not a host", """{ "Id": "inventory-service", "Endpoints": [ { "Host": "not a host", "Port": 5001 } ] }""", "{}",
            "Mesh:Discovery:Services:0:Endpoints:0:Host must be a host name or IP address (was 'not a host')." },
        { "endpoint listed twice", """{ "Id": "inventory-service", "Endpoints": [ { "Host": "127.0.0.1", "Port": 5001 }, { "Host": "127.0.0.1", "Port": 5001 } ] }""", "{}",
            "Mesh:Discovery:Services:0:Endpoints:1 repeats 127.0.0.1:5001, already listed at Mesh:Discovery:Services:0:Endpoints:0." },
        { "misspelt endpoint key", """{ "Id": "inventory-service", "Endpoints": [ { "Host": "127.0.0.1", "Prot": 5001 } ] }""", "{}",
            "Mesh:Discovery:Services:0:Endpoints:0:Prot is not a known setting" },
        { "Dns with Endpoints", """{ "Id": "inventory-service", "Dns": true, "Endpoints": [ { "Host": "127.0.0.1", "Port": 5001 } ] }""", "{}",
            "Mesh:Discovery:Services:0:Dns resolves Mesh:Discovery:Services:0:Host to its addresses and cannot be combined with Mesh:Discovery:Services:0:Endpoints." },
        { "Dns without a port", """{ "Id": "inventory-service", "Host": "inventory.default.svc.cluster.local", "Dns": true }""", "{}",
            "Mesh:Discovery:Services:0:Port must be between 1 and 65535 (was 0)." },
        { "zero consecutive failures", """{ "Id": "inventory-service", "Host": "127.0.0.1", "Port": 5001 }""", """{ "OutlierDetection": { "ConsecutiveFailures": 0 } }""",
            "Mesh:Resilience:OutlierDetection:ConsecutiveFailures must be between 1 and 10000 (was 0)." },
        { "zero ejection time", """{ "Id": "inventory-service", "Host": "127.0.0.1", "Port": 5001 }""", """{ "OutlierDetection": { "BaseEjectionTime": 0 } }""",
            "Mesh:Resilience:OutlierDetection:BaseEjectionTime must be between 1 and 86400000 (was 0)." },
        { "ejection percent above 100", """{ "Id": "inventory-service", "Host": "127.0.0.1", "Port": 5001 }""", """{ "OutlierDetection": { "MaxEjectionPercent": 101 } }""",
            "Mesh:Resilience:OutlierDetection:MaxEjectionPercent must be between 0 and 100 (was 101)." },
        { "misspelt outlier key", """{ "Id": "inventory-service", "Host": "127.0.0.1", "Port": 5001 }""", """{ "OutlierDetection": { "ConsecutiveErrors": 3 } }""",
            "Mesh:Resilience:OutlierDetection:ConsecutiveErrors is not a known setting" },
    };

    [Theory]
    [MemberData(nameof(InvalidEntries))]
    public async Task StartAsync_InvalidEntry_FailsNamingTheKey(string name, string entry, string resilience, string message)
    {
        var (host, _) = MeshClientHost.Build(Config(entry, resilience), m => m.AddClient<InventoryClient>("inventory-service"));
        using (host)
        {
            var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

            Assert.True(error.Message.Contains(message, StringComparison.Ordinal), $"{name}: '{error.Message}' does not contain '{message}'");
        }
    }

    [Theory]
    [InlineData("""{ "Id": "inventory-service", "Endpoints": [ { "Host": "10.0.0.5", "Port": 50054 }, { "Host": "10.0.0.6", "Port": 50054 } ] }""")]
    [InlineData("""{ "Id": "inventory-service", "Host": "inventory.prod.svc.cluster.local", "Port": 50054, "Dns": true }""")]
    [InlineData("""{ "id": "inventory-service", "endpoints": [ { "host": "localhost", "port": 50054 } ] }""")]
    public async Task StartAsync_DesignExamples_Start(string entry)
    {
        await using var client = await MeshClientHost.StartAsync(
            Config(entry, """{ "OutlierDetection": { "ConsecutiveFailures": 5, "BaseEjectionTime": 30000, "MaxEjectionPercent": 50 } }"""),
            m => m.AddClient<InventoryClient>("inventory-service"));

        Assert.NotNull(client.Get<InventoryClient>());
    }

    private static string Config(string entry, string resilience) => $$"""
        {
          "Mesh": {
            "ServiceId": "order-service",
            "Resilience": {{resilience}},
            "Discovery": { "Services": [ {{entry}} ] }
          }
        }
        """;
}
