using System.Diagnostics.Metrics;
using System.Text.Json;
using Grpc.Core;
using Mesh.AspNetCore.Tests.Infrastructure;
using Mesh.AspNetCore.Tests.Protos;
using Mesh.AspNetCore.Tests.Resilience;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Mesh.AspNetCore.Tests.Telemetry;

/// <summary>
/// Stats and instruments after real calls: an order service calls a failing inventory service (whose breaker
/// opens) and a healthy payment service, over Kestrel, through mesh clients.
/// </summary>
public sealed class MeshTelemetryEndToEndTests
{
    private const string Resilience = """
        { "Retry": { "MaxAttempts": 1, "InitialDelay": 1 }, "CircuitBreaker": { "FailureThreshold": 4, "Timeout": 600000 } }
        """;

    [Fact]
    public async Task MapMeshStats_AfterRealCallsWithAnOpenBreaker_ServesWhatHappened()
    {
        await using var scenario = await Scenario.StartAsync();
        await scenario.RunAsync();

        using var http = scenario.Order.CreateHttpClient();
        var json = await http.GetStringAsync(new Uri("/mesh/stats", UriKind.Relative), TestContext.Current.CancellationToken);
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;

        Assert.Equal("order-service", root.GetProperty("service").GetString());
        Assert.Equal(["inventory-service", "payment-service"], root.GetProperty("connectedServices").EnumerateArray().Select(e => e.GetString()));
        AssertFigures(root.GetProperty("metrics"), sent: 6, failed: 3, retries: 2, state: "open");
        AssertFigures(root.GetProperty("services").GetProperty("inventory-service"), sent: 3, failed: 3, retries: 2, state: "open");
        AssertFigures(root.GetProperty("services").GetProperty("payment-service"), sent: 3, failed: 0, retries: 0, state: "closed");
        Assert.Equal(4, scenario.InventoryScript.Calls); // the third inventory call was rejected without reaching it
    }

    [Fact]
    public async Task Instruments_AfterRealCalls_RecordCallsRetriesAndTheTransition()
    {
        await using var scenario = await Scenario.StartAsync();
        var meterFactory = scenario.Order.Services.GetRequiredService<IMeterFactory>();
        using var calls = new MetricCollector<long>(meterFactory, "Mesh.AspNetCore", "mesh.client.calls");
        using var retries = new MetricCollector<long>(meterFactory, "Mesh.AspNetCore", "mesh.client.retries");
        using var transitions = new MetricCollector<long>(meterFactory, "Mesh.AspNetCore", "mesh.circuit_breaker.transitions");
        using var duration = new MetricCollector<double>(meterFactory, "Mesh.AspNetCore", "mesh.client.call.duration");

        await scenario.RunAsync();

        var inventoryCalls = calls.GetMeasurementSnapshot().Where(m => Tag(m.Tags, "mesh.service") == "inventory-service").ToList();
        Assert.Equal(3, inventoryCalls.Count);
        Assert.All(inventoryCalls, m =>
        {
            Assert.Equal("failure", Tag(m.Tags, "mesh.outcome"));
            Assert.Equal("UNAVAILABLE", Tag(m.Tags, "rpc.response.status_code"));
            Assert.Equal("/mesh.tests.Echo/Say", Tag(m.Tags, "rpc.method"));
        });
        var paymentCalls = calls.GetMeasurementSnapshot().Where(m => Tag(m.Tags, "mesh.service") == "payment-service").ToList();
        Assert.Equal(3, paymentCalls.Count);
        Assert.All(paymentCalls, m => Assert.Equal("success", Tag(m.Tags, "mesh.outcome")));
        Assert.Equal(2, retries.GetMeasurementSnapshot().Sum(m => m.Value));
        var opened = Assert.Single(transitions.GetMeasurementSnapshot());
        Assert.Equal(("inventory-service", "closed", "open"),
            (Tag(opened.Tags, "mesh.service"), Tag(opened.Tags, "mesh.circuit_breaker.from"), Tag(opened.Tags, "mesh.circuit_breaker.to")));
        Assert.Equal(6, duration.GetMeasurementSnapshot().Count);
    }

    private static void AssertFigures(JsonElement figures, long sent, long failed, long retries, string state)
    {
        Assert.Equal(sent, figures.GetProperty("messagesSent").GetInt64());
        Assert.Equal(failed, figures.GetProperty("messagesFailed").GetInt64());
        Assert.Equal(retries, figures.GetProperty("retries").GetInt64());
        Assert.Equal(state, figures.GetProperty("circuitBreakerState").GetString());
    }

    private static string? Tag(IReadOnlyDictionary<string, object?> tags, string name) =>
        tags.TryGetValue(name, out var value) ? value?.ToString() : null;

    private sealed class Scenario : IAsyncDisposable
    {
        private Scenario(MeshTestHost inventory, MeshTestHost payment, MeshTestHost order, EchoScript inventoryScript)
        {
            Inventory = inventory;
            Payment = payment;
            Order = order;
            InventoryScript = inventoryScript;
        }

        public MeshTestHost Inventory { get; }

        public MeshTestHost Payment { get; }

        public MeshTestHost Order { get; }

        public EchoScript InventoryScript { get; }

        public static async Task<Scenario> StartAsync()
        {
            var inventoryScript = new EchoScript { Say = EchoScript.FailWith(StatusCode.Unavailable) };
            var inventory = await EchoServer.StartAsync(inventoryScript);
            var payment = await EchoServer.StartAsync(new EchoScript());
            var order = await MeshTestHost.StartAsync(
                MeshConfig.For(inventory.Port, Resilience, payment.Port),
                b => b.Services.AddSecureMesh()
                    .AddClient<InventoryClient>("inventory-service")
                    .AddClient<PaymentClient>("payment-service"),
                app => app.MapMeshStats());
            return new Scenario(inventory, payment, order, inventoryScript);
        }

        /// <summary>Three successful payment calls; three failing inventory calls, the last rejected by the open breaker.</summary>
        public async Task RunAsync()
        {
            var inventory = Order.Services.GetRequiredService<IMeshClient<InventoryClient>>();
            var payment = Order.Services.GetRequiredService<IMeshClient<PaymentClient>>();
            for (var i = 0; i < 3; i++)
            {
                await payment.Client.SayAsync(new EchoRequest { Text = "pay" }, cancellationToken: TestContext.Current.CancellationToken);
            }

            for (var i = 0; i < 3; i++)
            {
                var error = await Assert.ThrowsAnyAsync<RpcException>(() =>
                    inventory.Client.SayAsync(new EchoRequest { Text = "reserve" }, cancellationToken: TestContext.Current.CancellationToken).ResponseAsync);
                Assert.Equal(StatusCode.Unavailable, error.StatusCode);
            }

            Assert.Equal(CircuitState.Open, inventory.CircuitState);
        }

        public async ValueTask DisposeAsync()
        {
            await Order.DisposeAsync();
            await Payment.DisposeAsync();
            await Inventory.DisposeAsync();
        }
    }
}
