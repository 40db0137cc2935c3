using System.Diagnostics;
using Grpc.Core;
using Mesh.AspNetCore.Tests.Protos;
using Mesh.AspNetCore.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Reliability;

/// <summary>
/// A retry storm: a downstream service fails every call while 64 callers keep calling it, with the circuit breaker off.
/// Without a budget every call makes four attempts; with the retry budget, retries add at most <c>RetryRatio</c> of the
/// calls plus the allowance.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public sealed class RetryStormTests
{
    private const int Callers = 64;
    private const int CallsPerCaller = 10;
    private const int Calls = Callers * CallsPerCaller;
    private const double RetryRatio = 0.2;
    private const int MinRetriesPerSecond = 1;
    private const int WindowMs = 60_000;
    private const int Allowance = MinRetriesPerSecond * WindowMs / 1000;

    [Fact]
    public async Task Storm_64CallersOnAFailingService_BudgetKeepsAttemptsWithinTheRatioWhereNoBudgetMakesFourTimesTheCalls()
    {
        var withoutBudget = await RunStormAsync(budgetEnabled: false);
        var elapsed = Stopwatch.StartNew();
        var withBudget = await RunStormAsync(budgetEnabled: true);
        elapsed.Stop();

        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{Calls} calls by {Callers} callers: {withoutBudget} attempts without a budget ({(double)withoutBudget / Calls:0.00}x), " +
            $"{withBudget} with it ({(double)withBudget / Calls:0.00}x, bound {((1 + RetryRatio) * Calls) + Allowance}).");
        Assert.Equal(4 * Calls, withoutBudget);
        Assert.True(elapsed.ElapsedMilliseconds < WindowMs, "the storm outlasted the budget's window; the bound below assumes one window");
        Assert.InRange(withBudget, Calls + Allowance, ((1 + RetryRatio) * Calls) + Allowance);
    }

    /// <summary>Runs the storm against a fresh failing service and returns how many attempts reached it.</summary>
    private static async Task<int> RunStormAsync(bool budgetEnabled)
    {
        var script = new EchoScript { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = $$"""
            {
              "Retry": { "MaxAttempts": 3, "InitialDelay": 1,
                         "Budget": { "Enabled": {{(budgetEnabled ? "true" : "false")}}, "RetryRatio": 0.2, "MinRetriesPerSecond": {{MinRetriesPerSecond}}, "WindowMs": {{WindowMs}} } },
              "CircuitBreaker": { "Enabled": false }
            }
            """;
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"));
        var inventory = client.Get<InventoryClient>();

        await Task.WhenAll(Enumerable.Range(0, Callers).Select(caller => Task.Run(async () =>
        {
            for (var i = 0; i < CallsPerCaller; i++)
            {
                var error = await Assert.ThrowsAsync<RpcException>(() => inventory.SayAsync(new EchoRequest { Text = $"{caller}/{i}" }).ResponseAsync);
                Assert.Equal(StatusCode.Unavailable, error.StatusCode);
            }
        })));

        Assert.Equal(Calls, client.Get<ISecureMesh>().GetStats().Metrics.MessagesSent);
        return script.Calls;
    }
}
