using Grpc.Core;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Telemetry;

[Collection(MeshMeterByNameCollection.Name)]
public sealed class MeshMetricsAllocationTests
{
    [Fact]
    public void Record_NobodyListens_AllocatesNothingAndStillCounts()
    {
        using var services = TelemetryTestServices.Build();
        var metrics = services.GetRequiredService<MeshMetrics>();
        var mesh = services.GetRequiredService<ISecureMesh>();
        RecordScript(metrics, times: 1); // first sight of each service adds its entry

        var before = GC.GetAllocatedBytesForCurrentThread();
        RecordScript(metrics, times: 10_000);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        var stats = mesh.GetStats();
        Assert.Equal(
            (20_002L, 10_001L, 10_001L, 10_001L, 10_001L),
            (stats.Metrics.MessagesSent, stats.Metrics.MessagesFailed, stats.Metrics.Retries, stats.Metrics.RateLimitAllowed, stats.Metrics.RateLimitBlocked));
    }

    private static void RecordScript(MeshMetrics metrics, int times)
    {
        for (var i = 0; i < times; i++)
        {
            metrics.RateLimitDecision(admitted: true, "grpc");
            metrics.RateLimitDecision(admitted: false, "http");
            metrics.RetryScheduled("inventory-service", "/inventory.Inventory/Reserve", StatusCode.Unavailable);
            metrics.CallCompleted("inventory-service", "/inventory.Inventory/Reserve", StatusCode.OK, TimeSpan.FromMilliseconds(12));
            metrics.CallCompleted("payment-service", "/payment.Payment/Charge", StatusCode.DeadlineExceeded, TimeSpan.FromSeconds(2));
            metrics.CircuitStateChanged("payment-service", CircuitState.Closed, CircuitState.Open);
        }
    }
}
