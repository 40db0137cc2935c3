using Mesh.AspNetCore;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Metrics;

namespace Microsoft.Extensions.DependencyInjection;

public static partial class MeshServiceCollectionExtensions
{
    private static void AddTelemetry(IServiceCollection services)
    {
        services.AddMetrics();
        services.TryAddSingleton<MeshMetrics>();
        services.TryAddSingleton<ISecureMesh, SecureMesh>();
        services.TryAddSingleton<DashboardLatencyHistory>();
        services.TryAddSingleton<DashboardFeed>();
        services.TryAddSingleton<DashboardEndpoints>();

        // Only registers configuration callbacks: they run when the application builds an OpenTelemetry meter
        // provider (AddOpenTelemetry().WithMetrics(...)), and do nothing otherwise. Creating the instruments then
        // means the circuit state gauge is exported from the start, before any mesh call.
        services.ConfigureOpenTelemetryMeterProvider(static metrics => metrics.AddMeter(MeshMetrics.MeterName));
        services.ConfigureOpenTelemetryMeterProvider(static (provider, _) => provider.GetRequiredService<MeshMetrics>());
    }
}
