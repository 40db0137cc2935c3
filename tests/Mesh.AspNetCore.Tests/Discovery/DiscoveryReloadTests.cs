using Mesh.AspNetCore.Tests.Protos;
using Mesh.AspNetCore.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Discovery;

/// <summary>
/// An edit of appsettings.json that takes away the discovery entry of a service a client is registered for: like any
/// invalid reload, it is not applied. The error names the service, and calls keep reaching it over Kestrel.
/// </summary>
public sealed class DiscoveryReloadTests
{
    private static readonly EchoRequest Hello = new() { Text = "hello" };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Reload_EntryOfARegisteredClientRemoved_NotAppliedAndCallsStillReachTheService()
    {
        var inventoryScript = new EchoScript();
        var paymentScript = new EchoScript();
        await using var inventoryServer = await EchoServer.StartAsync(inventoryScript);
        await using var paymentServer = await EchoServer.StartAsync(paymentScript);
        await using var movedPaymentServer = await EchoServer.StartAsync(new EchoScript());
        await using var client = await MeshClientHost.StartAsync(
            MeshConfig.For(inventoryServer.Port, paymentPort: paymentServer.Port),
            m => m.AddClient<InventoryClient>("inventory-service").AddClient<PaymentClient>("payment-service"));
        var inventory = client.Get<InventoryClient>();
        var payment = client.Get<PaymentClient>();
        await inventory.SayAsync(Hello, cancellationToken: Ct);

        // The saved file lists only payment-service, moved to another server.
        client.ReloadJson($$"""
            { "Mesh": { "ServiceId": "order-service",
              "Discovery": { "Services": [ { "Id": "payment-service", "Host": "127.0.0.1", "Port": {{movedPaymentServer.Port}} } ] } } }
            """);

        var error = Assert.Single(client.Logs.Entries, e => e.Level >= LogLevel.Error);
        Assert.Equal(1001, error.EventId.Id);
        Assert.Contains("Mesh:Discovery:Services has no service 'inventory-service', for which AddClient<InventoryClient> registered a client.", error.Message, StringComparison.Ordinal);

        // Nothing of the rejected edit applies: inventory-service is still called where it was, and so is payment-service.
        Assert.Equal("still here", (await inventory.SayAsync(new EchoRequest { Text = "still here" }, cancellationToken: Ct)).Text);
        await payment.SayAsync(Hello, cancellationToken: Ct);
        Assert.Equal((2, 1), (inventoryScript.Calls, paymentScript.Calls));
        Assert.Equal(CircuitState.Closed, client.Get<IMeshClient<InventoryClient>>().CircuitState);
    }
}
