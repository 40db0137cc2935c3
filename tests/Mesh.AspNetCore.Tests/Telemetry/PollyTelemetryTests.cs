using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Grpc.Core;
using Mesh.AspNetCore.Tests.Protos;
using Mesh.AspNetCore.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Telemetry;

/// <summary>The client pipeline is Polly's: its own <c>Polly</c> meter reports the mesh clients' retries.</summary>
public sealed class PollyTelemetryTests
{
    [Fact]
    public async Task PollyMeter_RetriedMeshCall_ReportsOnRetryForThatServicesPipeline()
    {
        var serviceId = $"polly-{Guid.NewGuid():N}";
        var events = new ConcurrentQueue<(string? Pipeline, string? Event, int Value)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "Polly" && instrument.Name == "resilience.polly.strategy.events")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<int>((_, value, tags, _) =>
        {
            string? pipeline = null, name = null;
            foreach (var tag in tags)
            {
                pipeline = tag.Key == "pipeline.name" ? tag.Value as string : pipeline;
                name = tag.Key == "event.name" ? tag.Value as string : name;
            }

            events.Enqueue((pipeline, name, value));
        });
        listener.Start();
        await using var server = await EchoServer.StartAsync(new EchoScript { Say = EchoScript.FailFirst(1, StatusCode.Unavailable) });
        await using var client = await MeshClientHost.StartAsync(
            $$"""
            { "Mesh": { "ServiceId": "order-service", "Resilience": { "Retry": { "InitialDelay": 1 } },
              "Discovery": { "Services": [ { "Id": "{{serviceId}}", "Host": "127.0.0.1", "Port": {{server.Port}} } ] } } }
            """,
            mesh => mesh.AddClient<InventoryClient>(serviceId));

        await client.Get<InventoryClient>().SayAsync(new EchoRequest { Text = "x" }, cancellationToken: TestContext.Current.CancellationToken);

        var retry = Assert.Single(events, e => e.Pipeline == "mesh-client:" + serviceId && e.Event == "OnRetry");
        Assert.Equal(1, retry.Value);
    }
}
