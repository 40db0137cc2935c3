using Grpc.Core;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>
/// <c>Mesh:Resilience:CircuitBreaker:FailureThreshold</c> edited while the service runs: the next calls to a failing
/// service over Kestrel open the breaker at the new threshold, counting the failures seen before the edit.
/// </summary>
public sealed class CircuitBreakerReloadTests
{
    private static readonly EchoRequest Hello = new() { Text = "hello" };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Reload_FailureThresholdLowered_NextFailureOpensTheBreaker()
    {
        var script = new EchoScript { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await StartClientAsync(server.Port, failureThreshold: 5);
        var inventory = client.Get<IMeshClient<InventoryClient>>();
        await FailAsync(inventory, 1);

        client.Reload(("Mesh:Resilience:CircuitBreaker:FailureThreshold", "2"));
        await FailAsync(inventory, 1);

        // Two consecutive failures under a threshold of 2: open, and the next call never reaches the service.
        Assert.Equal(CircuitState.Open, inventory.CircuitState);
        var rejected = await Assert.ThrowsAsync<RpcException>(() => inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        Assert.Contains("circuit breaker of service 'inventory-service' is open", rejected.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(2, script.Calls);
    }

    [Fact]
    public async Task Reload_FailureThresholdRaised_BreakerOpensOnlyAtTheNewThreshold()
    {
        var script = new EchoScript { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await StartClientAsync(server.Port, failureThreshold: 2);
        var inventory = client.Get<IMeshClient<InventoryClient>>();
        await FailAsync(inventory, 1);

        client.Reload(("Mesh:Resilience:CircuitBreaker:FailureThreshold", "4"));

        // The old threshold would have opened at the second failure.
        await FailAsync(inventory, 2);
        Assert.Equal(CircuitState.Closed, inventory.CircuitState);
        await FailAsync(inventory, 1);
        Assert.Equal(CircuitState.Open, inventory.CircuitState);
        await Assert.ThrowsAsync<RpcException>(() => inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        Assert.Equal(4, script.Calls);
    }

    // Retries off, so each call is one attempt that the breaker counts.
    private static Task<MeshClientHost> StartClientAsync(int port, int failureThreshold) =>
        MeshClientHost.StartAsync(
            MeshConfig.For(port, $$"""{ "Retry": { "Enabled": false }, "CircuitBreaker": { "FailureThreshold": {{failureThreshold}}, "Timeout": 600000 } }"""),
            m => m.AddClient<InventoryClient>("inventory-service"));

    /// <summary>Makes <paramref name="calls"/> calls that reach the failing service and end with its status.</summary>
    private static async Task FailAsync(IMeshClient<InventoryClient> inventory, int calls)
    {
        for (var i = 0; i < calls; i++)
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
            Assert.Equal("scripted Unavailable", error.Status.Detail);
        }
    }
}
