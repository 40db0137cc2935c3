using Grpc.Core;
using Mesh.AspNetCore.Tests.Protos;
using Mesh.AspNetCore.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Discovery;

/// <summary>Service ids compare ordinal case-insensitively everywhere, like configuration keys.</summary>
public sealed class ServiceIdCaseTests
{
    private static readonly EchoRequest Hello = new() { Text = "hello" };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AddClient_SameIdInAnotherCase_OneServiceOneBreakerOneStatsEntry()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "CircuitBreaker": { "FailureThreshold": 2 }, "Retry": { "Enabled": false } }""";
        await using var client = await MeshClientHost.StartAsync(
            MeshConfig.For(server.Port, resilience),
            m => m.AddClient<InventoryClient>("inventory-service").AddClient<PaymentClient>("Inventory-Service"),
            time);

        var upper = client.Get<IMeshClient<PaymentClient>>();
        var lower = client.Get<IMeshClient<InventoryClient>>();
        await Assert.ThrowsAsync<RpcException>(() => lower.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        await Assert.ThrowsAsync<RpcException>(() => upper.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);

        // Two failures through the two clients open the one breaker of the one service.
        Assert.Equal(CircuitState.Open, lower.CircuitState);
        Assert.Equal(CircuitState.Open, upper.CircuitState);
        var stats = client.Get<ISecureMesh>().GetStats();
        var entry = Assert.Single(stats.Services);
        Assert.Equal("inventory-service", entry.Key);
        Assert.Equal(2, entry.Value.MessagesSent);
        Assert.Equal(["inventory-service"], stats.ConnectedServices);
        Assert.Equal(2, script.Calls);
    }
}
