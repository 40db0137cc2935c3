using Mesh.Samples;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;

namespace OrderService;

/// <summary>
/// The order service of the spec's "Microservice Dependencies" example: it calls the inventory and payment services
/// through mesh clients, each with its own circuit breaker, under the "Production-Ready Configuration".
/// </summary>
public static class OrderServiceApp
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Services.AddGrpc();
        builder.Services.AddSecureMesh()
            .AddClient<Inventory.InventoryClient>("inventory-service")
            .AddClient<Payment.PaymentClient>("payment-service");
        builder.Services.AddSingleton<OrderPlacement>();

        // Metrics for a backend: Prometheus scrapes /metrics; OTLP is pushed when OTEL_EXPORTER_OTLP_ENDPOINT is set.
        // AddSecureMesh() already adds the Mesh.AspNetCore meter to this provider.
        builder.Services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddPrometheusExporter();
            if (!string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
            {
                metrics.AddOtlpExporter();
            }
        });
        configure?.Invoke(builder);

        var app = builder.Build();
        app.MapGrpcService<OrdersApi>();
        app.MapPost("/orders", async (OrderRequest order, OrderPlacement placement, CancellationToken cancellationToken) =>
                Results.Ok(await placement.PlaceAsync(order, deadline: null, cancellationToken)))
            .RequireMeshRateLimit();
        app.MapPrometheusScrapingEndpoint();
        app.MapMeshStats("/mesh/stats");
        app.MapMeshDashboard("/mesh/dashboard");
        return app;
    }
}
