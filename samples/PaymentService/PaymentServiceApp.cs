using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;

namespace PaymentService;

/// <summary>
/// The payment service, with the spec's low per-service rate limit (100 requests a minute per caller). Its control
/// endpoint lowers the limit at run time, through a configuration reload, to show the service overloaded.
/// </summary>
public static class PaymentServiceApp
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Configuration.AddInMemoryCollection();
        builder.Services.AddGrpc();
        builder.Services.AddSecureMesh();

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
        app.MapGrpcService<PaymentApi>();
        app.MapPrometheusScrapingEndpoint();
        app.MapMeshStats();

        const string MaxRequestsKey = "Mesh:Resilience:RateLimit:MaxRequests";
        const string WindowMsKey = "Mesh:Resilience:RateLimit:WindowMs";
        var configuration = (IConfigurationRoot)app.Configuration;
        var overrides = configuration.Providers.OfType<MemoryConfigurationProvider>().Last();
        var (baseMaxRequests, baseWindowMs) = (configuration[MaxRequestsKey], configuration[WindowMsKey]);
        app.MapPost("/control/overload", (int maxRequests, int windowMs) =>
        {
            overrides.Set(MaxRequestsKey, maxRequests.ToString(CultureInfo.InvariantCulture));
            overrides.Set(WindowMsKey, windowMs.ToString(CultureInfo.InvariantCulture));
            configuration.Reload();
            return Results.Ok(new { maxRequests, windowMs });
        });
        app.MapDelete("/control/overload", () =>
        {
            overrides.Set(MaxRequestsKey, baseMaxRequests);
            overrides.Set(WindowMsKey, baseWindowMs);
            configuration.Reload();
            return Results.NoContent();
        });
        return app;
    }
}
