using Grpc.Core;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>Editing <c>Mesh:Resilience</c> while the service runs: new calls use the new values, breakers keep their state.</summary>
public sealed class ResilienceReloadTests
{
    private static readonly EchoRequest Hello = new() { Text = "hello" };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Reload_ResilienceValues_NewCallsUseThemAndAnOpenBreakerStaysOpen()
    {
        var time = new TrackingTimeProvider();
        var inventoryScript = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        var paymentScript = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.ResourceExhausted) };
        await using var inventoryServer = await EchoServer.StartAsync(inventoryScript);
        await using var paymentServer = await EchoServer.StartAsync(paymentScript);
        var resilience = """{ "CircuitBreaker": { "FailureThreshold": 1, "Timeout": 60000 }, "Retry": { "Enabled": false } }""";
        await using var client = await MeshClientHost.StartAsync(
            MeshConfig.For(inventoryServer.Port, resilience, paymentServer.Port),
            m => m.AddClient<InventoryClient>("inventory-service").AddClient<PaymentClient>("payment-service"),
            time);
        var inventory = client.Get<IMeshClient<InventoryClient>>();
        var payment = client.Get<IMeshClient<PaymentClient>>();
        await Assert.ThrowsAsync<RpcException>(() => inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        await Assert.ThrowsAsync<RpcException>(() => payment.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        Assert.Equal(CircuitState.Open, inventory.CircuitState);
        Assert.Equal(1, paymentScript.Calls);
        Assert.False(time.HasPendingTimer);

        client.Reload(
            ("Mesh:Resilience:Retry:Enabled", "true"),
            ("Mesh:Resilience:Retry:MaxAttempts", "2"),
            ("Mesh:Resilience:Retry:InitialDelay", "100"),
            ("Mesh:Resilience:CircuitBreaker:Timeout", "1000"));

        // The open breaker kept its state and its open period.
        Assert.Equal(CircuitState.Open, inventory.CircuitState);
        var rejected = await Assert.ThrowsAsync<RpcException>(() => inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        Assert.Contains("60.0 s", rejected.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(1, inventoryScript.Calls);

        // New calls retry with the reloaded values.
        var call = payment.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        var delays = await time.DriveAsync(call);
        Assert.Equal([100, 200], delays.Select(d => d.TotalMilliseconds));
        Assert.Equal(4, paymentScript.Calls);
        Assert.Equal(CircuitState.Open, inventory.CircuitState);
    }

    [Fact]
    public async Task Reload_InvalidValue_KeepsTheLastValidPipeline()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "Retry": { "MaxAttempts": 1, "InitialDelay": 300 }, "CircuitBreaker": { "Enabled": false } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);

        client.Reload(("Mesh:Resilience:Retry:MaxAttempts", "-4"));
        var call = client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        var delays = await time.DriveAsync(call);

        Assert.Equal([300], delays.Select(d => d.TotalMilliseconds));
        Assert.Contains(client.Logs.Entries, e => e.EventId.Id == 1001 && e.Message.Contains("Mesh:Resilience:Retry:MaxAttempts", StringComparison.Ordinal));
    }
}
