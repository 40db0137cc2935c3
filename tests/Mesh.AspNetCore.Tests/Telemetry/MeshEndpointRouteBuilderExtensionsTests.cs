using System.Net;
using System.Text.Json;
using Grpc.Core;
using Mesh.AspNetCore.Telemetry.Internal;
using Mesh.AspNetCore.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Telemetry;

public sealed class MeshEndpointRouteBuilderExtensionsTests
{
    private const string Json = """{ "Mesh": { "ServiceId": "order-service" } }""";

    [Fact]
    public async Task MapMeshStats_AfterCallsWithOpenAndHalfOpenBreakers_ServesCamelCaseJsonWithTheSeedsWords()
    {
        var reader = new TestCircuitStateReader("inventory-service", "payment-service", "shipping-service");
        await using var host = await MeshTestHost.StartAsync(
            Json,
            b =>
            {
                b.Services.AddSecureMesh();
                b.Services.AddSingleton<ICircuitStateReader>(reader);
            },
            app => app.MapMeshStats());
        var metrics = host.Services.GetRequiredService<MeshMetrics>();
        metrics.CallCompleted("inventory-service", "/inventory.Inventory/Reserve", StatusCode.OK, TimeSpan.FromMilliseconds(8));
        metrics.RetryScheduled("payment-service", "/payment.Payment/Charge", StatusCode.Unavailable);
        metrics.CallCompleted("payment-service", "/payment.Payment/Charge", StatusCode.Unavailable, TimeSpan.FromMilliseconds(40));
        metrics.CircuitStateChanged("payment-service", CircuitState.Closed, CircuitState.Open);
        reader.Set("payment-service", CircuitState.Open);
        reader.Set("shipping-service", CircuitState.HalfOpen);
        metrics.RateLimitDecision(admitted: true, "grpc");
        metrics.RateLimitDecision(admitted: false, "http");
        using var client = host.CreateHttpClient();

        using var response = await client.GetAsync(new Uri("/mesh/stats", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        var root = json.RootElement;
        Assert.Equal(["service", "connectedServices", "metrics", "services"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("order-service", root.GetProperty("service").GetString());
        Assert.Equal(["inventory-service", "payment-service", "shipping-service"], root.GetProperty("connectedServices").EnumerateArray().Select(e => e.GetString()));

        var top = root.GetProperty("metrics");
        Assert.Equal(
            ["messagesSent", "messagesFailed", "circuitBreakerState", "retries", "retriesThrottled", "rateLimitAllowed", "rateLimitBlocked", "averageLatencyMs", "p50LatencyMs", "p99LatencyMs"],
            top.EnumerateObject().Select(p => p.Name));
        Assert.Equal(
            (2, 1, "open", 1, 1, 1, 24.0),
            (top.GetProperty("messagesSent").GetInt64(), top.GetProperty("messagesFailed").GetInt64(), top.GetProperty("circuitBreakerState").GetString(),
             top.GetProperty("retries").GetInt64(), top.GetProperty("rateLimitAllowed").GetInt64(), top.GetProperty("rateLimitBlocked").GetInt64(),
             top.GetProperty("averageLatencyMs").GetDouble()));

        var perService = root.GetProperty("services");
        Assert.Equal(["inventory-service", "payment-service", "shipping-service"], perService.EnumerateObject().Select(p => p.Name));
        Assert.Equal(
            [("closed", 1L, 0L), ("open", 1L, 1L), ("half_open", 0L, 0L)],
            perService.EnumerateObject().Select(p => (
                p.Value.GetProperty("circuitBreakerState").GetString(),
                p.Value.GetProperty("messagesSent").GetInt64(),
                p.Value.GetProperty("messagesFailed").GetInt64())));
        Assert.Equal(40.0, perService.GetProperty("payment-service").GetProperty("p99LatencyMs").GetDouble());
    }

    [Fact]
    public async Task MapMeshStats_CustomPattern_ServesThereOnly()
    {
        await using var host = await MeshTestHost.StartAsync(
            Json,
            b => b.Services.AddSecureMesh(),
            app => app.MapMeshStats("/internal/mesh"));
        using var client = host.CreateHttpClient();

        using var custom = await client.GetAsync(new Uri("/internal/mesh", UriKind.Relative), TestContext.Current.CancellationToken);
        using var standard = await client.GetAsync(new Uri("/mesh/stats", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.NotFound), (custom.StatusCode, standard.StatusCode));
        var body = await custom.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.Equal("order-service", JsonDocument.Parse(body).RootElement.GetProperty("service").GetString());
    }

    [Fact]
    public async Task MapMeshStats_WithoutAddSecureMesh_ThrowsNamingAddSecureMesh()
    {
        await using var app = MeshTestHost.Build(Json, _ => { });

        var error = Assert.Throws<InvalidOperationException>(() => app.MapMeshStats());

        Assert.Contains("AddSecureMesh()", error.Message, StringComparison.Ordinal);
    }
}
