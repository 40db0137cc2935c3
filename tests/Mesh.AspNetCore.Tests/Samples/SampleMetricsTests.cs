using System.Net.Http.Json;
using System.Reflection;
using System.Text.RegularExpressions;
using Mesh.AspNetCore.Tests.Infrastructure;
using Mesh.AspNetCore.Tests.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Samples;

/// <summary>
/// The order service of samples/ exports the mesh's instruments the way a Prometheus server scrapes them (real Kestrel,
/// real calls to the inventory service of samples/ while it is down, and the text of <c>GET /metrics</c>), and pushes
/// them over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set.
/// </summary>
[Collection(MeshMeterByNameCollection.Name)]
public sealed class SampleMetricsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task OrderService_AfterFailingCalls_PrometheusEndpointServesTheMeshInstrumentsByTheirDocumentedNames()
    {
        var contentRoot = ContentRoot(typeof(OrderService.OrderServiceApp));
        var inventoryPort = FreePort.Next();
        var inventory = InventoryService.InventoryServiceApp.Build(
            [$"--contentRoot={ContentRoot(typeof(InventoryService.InventoryServiceApp))}", $"--Mesh:Port={inventoryPort}", "--Mesh:ListenAddress=127.0.0.1", "--Kestrel:Endpoints:Web:Url=http://127.0.0.1:0"],
            builder => builder.Logging.ClearProviders());
        await inventory.StartAsync(Ct);
        inventory.Services.GetRequiredService<InventoryService.FaultInjector>().TrySet("down");
        var app = OrderService.OrderServiceApp.Build(
            [
                $"--contentRoot={contentRoot}",
                $"--Mesh:Port={FreePort.Next()}",
                "--Mesh:ListenAddress=127.0.0.1",
                "--Kestrel:Endpoints:Web:Url=http://127.0.0.1:0",
                "--Mesh:Discovery:Services:0:Host=127.0.0.1", $"--Mesh:Discovery:Services:0:Port={inventoryPort}",
                "--Mesh:Discovery:Services:1:Host=127.0.0.1", $"--Mesh:Discovery:Services:1:Port={inventoryPort}",
                "--Mesh:Resilience:Retry:InitialDelay=5",
            ],
            builder => builder.Logging.ClearProviders());
        await app.StartAsync(Ct);
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First(url => !url.Contains(app.Configuration["Mesh:Port"]!, StringComparison.Ordinal))) };

            // Each order's inventory call fails with UNAVAILABLE and is retried; the fifth failed attempt opens the breaker.
            for (var i = 0; i < 3; i++)
            {
                using var order = await http.PostAsJsonAsync("/orders", new { sku = "book-42", quantity = 1, amountCents = 1999 }, Ct);
                order.EnsureSuccessStatusCode();
            }

            var text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative), Ct);

            Assert.Contains("# TYPE mesh_client_calls_total counter", text, StringComparison.Ordinal);
            Assert.Contains("# TYPE mesh_client_retries_total counter", text, StringComparison.Ordinal);
            Assert.Contains("# TYPE mesh_client_call_duration_seconds histogram", text, StringComparison.Ordinal);
            Assert.Contains("# TYPE mesh_circuit_breaker_state gauge", text, StringComparison.Ordinal);
            Assert.Contains("# TYPE mesh_circuit_breaker_transitions_total counter", text, StringComparison.Ordinal);
            Assert.Contains("# TYPE mesh_rate_limit_decisions_total counter", text, StringComparison.Ordinal);

            Assert.Equal(3, Value(text, "mesh_client_calls_total", ("mesh_service", "inventory-service"), ("mesh_outcome", "failure"), ("rpc_response_status_code", "UNAVAILABLE")));
            Assert.Equal(4, Value(text, "mesh_client_retries_total", ("mesh_service", "inventory-service"), ("rpc_response_status_code", "UNAVAILABLE")));
            Assert.Equal(3, Value(text, "mesh_client_call_duration_seconds_count", ("mesh_service", "inventory-service"), ("mesh_outcome", "failure")));
            Assert.Equal(3, Value(text, "mesh_client_call_duration_seconds_bucket", ("mesh_service", "inventory-service"), ("le", "+Inf")));
            Assert.Equal(2, Value(text, "mesh_circuit_breaker_state", ("mesh_service", "inventory-service")));
            Assert.Equal(0, Value(text, "mesh_circuit_breaker_state", ("mesh_service", "payment-service")));
            Assert.Equal(1, Value(text, "mesh_circuit_breaker_transitions_total", ("mesh_service", "inventory-service"), ("mesh_circuit_breaker_from", "closed"), ("mesh_circuit_breaker_to", "open")));
            Assert.Equal(3, Value(text, "mesh_rate_limit_decisions_total", ("mesh_rate_limit_result", "admitted"), ("mesh_transport", "http")));

            // The Grafana dashboard under samples/ and the README's PromQL query only series that the endpoint serves.
            // (Names of series or of their labels, which share the mesh_ prefix.)
            var served = Regex.Matches(text, @"^(mesh_\w+)\{", RegexOptions.Multiline).Select(m => m.Groups[1].Value)
                .Concat(Regex.Matches(text, @"[{,](mesh_\w+)=""").Select(m => m.Groups[1].Value))
                .ToHashSet();
            var root = Path.GetFullPath(Path.Combine(contentRoot, "..", ".."));
            var grafana = File.ReadAllText(Path.Combine(root, "samples", "grafana", "mesh-dashboard.json"));
            var readme = string.Concat(Regex.Matches(File.ReadAllText(Path.Combine(root, "README.md")), @"```promql(.*?)```", RegexOptions.Singleline).Select(m => m.Groups[1].Value));
            Assert.NotEmpty(readme);
            Assert.All(
                Regex.Matches(grafana + readme, @"\bmesh_[a-z_]+").Select(m => m.Value).Distinct(),
                name => Assert.Contains(name, served));
        }
        finally
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
            await inventory.StopAsync(CancellationToken.None);
            await inventory.DisposeAsync();
        }
    }

    [Fact]
    public async Task OrderService_OtelExporterOtlpEndpointSet_PushesTheMeshInstrumentsToTheCollector()
    {
        // A stand-in OpenTelemetry collector: real Kestrel taking OTLP/HTTP protobuf exports on POST /v1/metrics.
        var exported = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var collectorBuilder = WebApplication.CreateSlimBuilder();
        collectorBuilder.Logging.ClearProviders();
        collectorBuilder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var collector = collectorBuilder.Build();
        collector.MapPost("/v1/metrics", async (HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            // Protobuf carries names as UTF-8 bytes: enough to see which instruments an export holds.
            var text = System.Text.Encoding.UTF8.GetString(body.ToArray());
            if (text.Contains("mesh.client.calls", StringComparison.Ordinal))
            {
                exported.TrySetResult(text);
            }

            return Results.Ok();
        });
        await collector.StartAsync(Ct);

        var inventoryPort = FreePort.Next();
        var inventory = InventoryService.InventoryServiceApp.Build(
            [$"--contentRoot={ContentRoot(typeof(InventoryService.InventoryServiceApp))}", $"--Mesh:Port={inventoryPort}", "--Mesh:ListenAddress=127.0.0.1", "--Kestrel:Endpoints:Web:Url=http://127.0.0.1:0"],
            builder => builder.Logging.ClearProviders());
        await inventory.StartAsync(Ct);
        var app = OrderService.OrderServiceApp.Build(
            [
                $"--contentRoot={ContentRoot(typeof(OrderService.OrderServiceApp))}",
                $"--Mesh:Port={FreePort.Next()}",
                "--Mesh:ListenAddress=127.0.0.1",
                "--Kestrel:Endpoints:Web:Url=http://127.0.0.1:0",
                "--Mesh:Discovery:Services:0:Host=127.0.0.1", $"--Mesh:Discovery:Services:0:Port={inventoryPort}",
                "--Mesh:Discovery:Services:1:Host=127.0.0.1", $"--Mesh:Discovery:Services:1:Port={inventoryPort}",
                // The standard OpenTelemetry variables, as a deployment sets them in the environment.
                $"--OTEL_EXPORTER_OTLP_ENDPOINT={collector.Urls.First()}",
                "--OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
                "--OTEL_METRIC_EXPORT_INTERVAL=200",
            ],
            builder => builder.Logging.ClearProviders());
        await app.StartAsync(Ct);
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First(url => !url.Contains(app.Configuration["Mesh:Port"]!, StringComparison.Ordinal))) };
            using var order = await http.PostAsJsonAsync("/orders", new { sku = "book-42", quantity = 1, amountCents = 1999 }, Ct);

            var export = await exported.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

            Assert.Contains("Mesh.AspNetCore", export, StringComparison.Ordinal);
            Assert.Contains("mesh.client.call.duration", export, StringComparison.Ordinal);
            Assert.Contains("mesh.circuit_breaker.state", export, StringComparison.Ordinal);
            Assert.Contains("inventory-service", export, StringComparison.Ordinal);
        }
        finally
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
            await inventory.StopAsync(CancellationToken.None);
            await inventory.DisposeAsync();
        }
    }

    private static string ContentRoot(Type app) =>
        app.Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "ContentRoot").Value!;

    /// <summary>The value of the one sample of <paramref name="name"/> whose labels include all of <paramref name="labels"/>.</summary>
    private static double Value(string exposition, string name, params (string Name, string Value)[] labels)
    {
        var samples = exposition.Split('\n')
            .Where(line => line.StartsWith(name + "{", StringComparison.Ordinal))
            .Where(line => labels.All(l => line.Contains($"{l.Name}=\"{l.Value}\"", StringComparison.Ordinal)))
            .ToArray();
        var sample = Assert.Single(samples);
        return double.Parse(Regex.Match(sample, @"\} (?<v>\S+)").Groups["v"].Value, System.Globalization.CultureInfo.InvariantCulture);
    }
}
