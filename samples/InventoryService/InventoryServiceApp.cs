using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;

namespace InventoryService;

/// <summary>The inventory service: reserves stock, and can be told to fail through its control endpoints.</summary>
public static class InventoryServiceApp
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Services.AddGrpc();
        builder.Services.AddSecureMesh();
        builder.Services.AddSingleton<FaultInjector>();

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
        app.MapGrpcService<InventoryApi>();
        app.MapPrometheusScrapingEndpoint();
        app.MapMeshStats();

        // Fault injection for the demo: healthy, transient (the first attempt of each order fails), down (every call fails).
        app.MapPost("/control/fault/{mode}", (string mode, FaultInjector faults) =>
            faults.TrySet(mode) ? Results.Ok(new { mode = faults.Mode.ToString() }) : Results.BadRequest($"unknown mode '{mode}'"));
        app.MapGet("/control/fault", (FaultInjector faults) => new { mode = faults.Mode.ToString() });
        return app;
    }
}
