using Grpc.Core;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>The spec's "Production-Ready Configuration": rate limit, circuit breaker and retry together.</summary>
public sealed class CombinedResilienceTests
{
    private static readonly EchoRequest Hello = new() { Text = "hello" };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ProductionConfiguration_FailingService_RetriesThenOpensThenRecovers()
    {
        var time = new TrackingTimeProvider();
        var healthy = false;
        var script = new EchoScript(time)
        {
            Say = (r, _) => Volatile.Read(ref healthy)
                ? Task.FromResult(new EchoReply { Text = r.Text })
                : throw new RpcException(new Status(StatusCode.Unavailable, "down")),
        };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """
            {
              "rateLimit": { "maxRequests": 1000, "windowMs": 60000 },
              "circuitBreaker": { "failureThreshold": 5, "successThreshold": 2, "timeout": 60000 },
              "retry": { "maxAttempts": 3, "initialDelay": 1000 }
            }
            """;
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var inventory = client.Get<IMeshClient<InventoryClient>>();

        // First call: four attempts at 0, 1, 3 and 7 s; four consecutive failures, the breaker stays closed.
        var first = inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        Assert.Equal([1000, 2000, 4000], (await time.DriveAsync(first)).Select(d => d.TotalMilliseconds));
        Assert.Equal(StatusCode.Unavailable, (await Assert.ThrowsAsync<RpcException>(() => first)).StatusCode);
        Assert.Equal(CircuitState.Closed, inventory.CircuitState);

        // Second call: the fifth failed attempt opens the breaker; its retry is rejected at once, without waiting its
        // backoff, and ends the call.
        var second = inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        Assert.Empty(await time.DriveAsync(second));
        var rejected = await Assert.ThrowsAsync<RpcException>(() => second);
        Assert.Contains("'inventory-service' is open", rejected.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(5, script.Calls);
        Assert.Equal(CircuitState.Open, inventory.CircuitState);

        // While open: rejected at once, nothing reaches the service, no retry is scheduled.
        await Assert.ThrowsAsync<RpcException>(() => inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        Assert.False(time.HasPendingTimer);
        Assert.Equal(5, script.Calls);

        // After the timeout the service has recovered: two trial calls close the breaker.
        time.Advance(TimeSpan.FromMilliseconds(59_999));
        Assert.Equal(CircuitState.Open, inventory.CircuitState);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(CircuitState.HalfOpen, inventory.CircuitState);
        Volatile.Write(ref healthy, true);
        Assert.Equal("hello", (await inventory.Client.SayAsync(Hello, cancellationToken: Ct)).Text);
        Assert.Equal("hello", (await inventory.Client.SayAsync(Hello, cancellationToken: Ct)).Text);
        Assert.Equal(CircuitState.Closed, inventory.CircuitState);
        Assert.Equal(7, script.Calls);
    }
}
