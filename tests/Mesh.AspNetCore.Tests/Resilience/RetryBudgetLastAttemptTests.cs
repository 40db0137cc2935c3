using Grpc.Core;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>
/// The last attempt of a call has no retry after it: it takes nothing from the retry budget, and a budget that is spent
/// by then is not reported as having refused a retry.
/// </summary>
public sealed class RetryBudgetLastAttemptTests
{
    [Fact]
    public async Task Call_AllAttemptsFail_TheLastAttemptTakesNothingFromTheBudget()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);

        // A call deposits exactly one retry, and there is no allowance: the call's one retry spends the budget.
        var resilience = """{ "Retry": { "MaxAttempts": 1, "InitialDelay": 10, "Budget": { "RetryRatio": 1, "MinRetriesPerSecond": 0 } }, "CircuitBreaker": { "Enabled": false } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var started = client.Logs.Entries.Count;

        var call = client.Get<InventoryClient>().SayAsync(new EchoRequest { Text = "hello" }, cancellationToken: TestContext.Current.CancellationToken).ResponseAsync;
        var delays = await time.DriveAsync(call);

        var error = await Assert.ThrowsAsync<RpcException>(() => call);
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal([10], delays.Select(d => d.TotalMilliseconds));
        Assert.Equal(2, script.Calls);
        var stats = client.Get<ISecureMesh>().GetStats();
        Assert.Equal(1, stats.Metrics.Retries);
        Assert.Equal(0, stats.Metrics.RetriesThrottled);
        Assert.DoesNotContain(client.Logs.Entries.Skip(started), e => e.EventId.Id == 3101);
    }
}
