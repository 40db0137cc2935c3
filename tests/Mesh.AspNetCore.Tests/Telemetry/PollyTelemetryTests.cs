using Grpc.Core;
using Mesh.AspNetCore.Tests.Protos;
using Mesh.AspNetCore.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Mesh.AspNetCore.Tests.Telemetry;

/// <summary>The client pipeline is Polly's: its own <c>Polly</c> meter reports the mesh clients' retries.</summary>
public sealed class PollyTelemetryTests
{
    [Fact]
    public async Task PollyMeter_RetriedMeshCall_ReportsOnRetryForThatServicesPipeline()
    {
        var serviceId = $"polly-{Guid.NewGuid():N}";
        using var events = new MetricCollector<int>(null, "Polly", "resilience.polly.strategy.events");
        await using var server = await EchoServer.StartAsync(new EchoScript { Say = EchoScript.FailFirst(1, StatusCode.Unavailable) });
        await using var client = await MeshClientHost.StartAsync(
            $$"""
            { "Mesh": { "ServiceId": "order-service", "Resilience": { "Retry": { "InitialDelay": 1 } },
              "Discovery": { "Services": [ { "Id": "{{serviceId}}", "Host": "127.0.0.1", "Port": {{server.Port}} } ] } } }
            """,
            mesh => mesh.AddClient<InventoryClient>(serviceId));

        await client.Get<InventoryClient>().SayAsync(new EchoRequest { Text = "x" }, cancellationToken: TestContext.Current.CancellationToken);

        var retry = Assert.Single(events.GetMeasurementSnapshot(), m =>
            Equals(m.Tags.GetValueOrDefault("pipeline.name"), "mesh-client:" + serviceId) && Equals(m.Tags.GetValueOrDefault("event.name"), "OnRetry"));
        Assert.Equal(1, retry.Value);
    }
}
