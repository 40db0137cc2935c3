using Grpc.Core;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>A retry that the open breaker will reject is rejected at once, not after its whole backoff.</summary>
public sealed class BreakerDuringBackoffTests
{
    private static readonly EchoRequest Hello = new() { Text = "hello" };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Call_BreakerOpensWhileWaitingToRetry_EndsAtOnceWithTheRejection()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "CircuitBreaker": { "FailureThreshold": 2, "Timeout": 60000 }, "Retry": { "MaxAttempts": 3, "InitialDelay": 1000 } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var inventory = client.Get<IMeshClient<InventoryClient>>();

        var waiting = inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        var backoff = await time.NextTimerAsync();

        // A second call's failure opens the breaker while the first waits for its retry; the clock does not move.
        var opening = await Assert.ThrowsAsync<RpcException>(() => inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync.WaitAsync(TimeSpan.FromSeconds(30), Ct));
        Assert.Equal(CircuitState.Open, inventory.CircuitState);

        var rejected = await Assert.ThrowsAsync<RpcException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(30), Ct));
        Assert.Equal(StatusCode.Unavailable, rejected.StatusCode);
        Assert.Contains("circuit breaker of service 'inventory-service' is open", rejected.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("circuit breaker of service 'inventory-service' is open", opening.Status.Detail, StringComparison.Ordinal);
        Assert.False(backoff.Fired);
        Assert.Equal(2, script.Calls);
    }

    [Fact]
    public async Task Call_BreakerOpenForLessThanTheBackoff_WaitsTheBackoffAndRetries()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailFirst(1, StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "CircuitBreaker": { "FailureThreshold": 1, "Timeout": 500 }, "Retry": { "MaxAttempts": 3, "InitialDelay": 1000 } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var inventory = client.Get<IMeshClient<InventoryClient>>();

        // The failure opens the breaker for 500 ms; the retry 1000 ms later is its trial call, and it succeeds.
        var call = inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        var delays = await time.DriveAsync(call);

        Assert.Equal("hello", (await call).Text);
        Assert.Equal([1000.0], delays.Select(d => d.TotalMilliseconds));
        Assert.Equal(2, script.Calls);
    }
}
