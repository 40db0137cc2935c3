using System.Diagnostics.Metrics;
using System.Text.Json;
using Grpc.Core;
using Mesh.AspNetCore.Telemetry.Internal;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>The retry budget on real Kestrel calls: what a caller, the stats, the meter and the log see when it refuses a retry.</summary>
public sealed class ThrottledRetryTests
{
    private static readonly EchoRequest Hello = new() { Text = "hello" };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Call_BudgetSpent_EndsWithTheAttemptStatusAtOnce()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(Config(server.Port, minRetriesPerSecond: 0), m => m.AddClient<InventoryClient>("inventory-service"), time);

        // One call adds a fifth of a retry, and there is no allowance: the retry is refused, with no backoff.
        var error = await Assert.ThrowsAsync<RpcException>(() => client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal(1, script.Calls);
        Assert.False(time.HasPendingTimer);
        var stats = client.Get<ISecureMesh>().GetStats();
        Assert.Equal(1, stats.Services["inventory-service"].RetriesThrottled);
        Assert.Equal(1, stats.Metrics.RetriesThrottled);
        Assert.Equal(0, stats.Metrics.Retries);
    }

    [Fact]
    public async Task Call_QuietClientWithDefaultBudget_GetsAllItsRetries()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port), m => m.AddClient<InventoryClient>("inventory-service"), time);

        var call = client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        var delays = await time.DriveAsync(call);

        await Assert.ThrowsAsync<RpcException>(() => call);
        Assert.Equal([1000, 2000, 4000], delays.Select(d => d.TotalMilliseconds));
        Assert.Equal(4, script.Calls);
        Assert.Equal(0, client.Get<ISecureMesh>().GetStats().Metrics.RetriesThrottled);
    }

    [Fact]
    public async Task Call_BudgetRunsDry_CountsEveryRefusalAndWarnsOncePerWindow()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(Config(server.Port, minRetriesPerSecond: 0), m => m.AddClient<InventoryClient>("inventory-service"), time);
        using var throttled = new MetricCollector<long>(client.Get<IMeterFactory>(), MeshMetrics.MeterName, MeshMetrics.ClientRetriesThrottledName);
        var inventory = client.Get<InventoryClient>();

        // Four calls: their deposits (4 x 0.2) stay below one retry, so each call's retry is refused.
        for (var i = 0; i < 4; i++)
        {
            await Assert.ThrowsAsync<RpcException>(() => inventory.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        }

        var measured = throttled.GetMeasurementSnapshot();
        Assert.Equal(4, measured.Sum(m => m.Value));
        Assert.All(measured, m =>
        {
            Assert.Equal("inventory-service", m.Tags[MeshMetrics.ServiceTag]);
            Assert.Equal("/mesh.tests.Echo/Say", m.Tags[MeshMetrics.MethodTag]);
            Assert.Equal("UNAVAILABLE", m.Tags[MeshMetrics.StatusCodeTag]);
        });
        Assert.Single(client.Logs.Entries, e => e.EventId.Name == "RetryBudgetExhausted" && e.Level == LogLevel.Warning);

        // The fifth call completes a retry's worth of deposits: its first retry is made, its second refused.
        var fifth = inventory.SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        var delays = await time.DriveAsync(fifth);
        await Assert.ThrowsAsync<RpcException>(() => fifth);
        Assert.Single(delays);
        Assert.Equal(4 + 2, script.Calls);
        Assert.Equal(5, throttled.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Single(client.Logs.Entries, e => e.EventId.Name == "RetryBudgetExhausted");
    }

    [Fact]
    public async Task Call_BudgetRefusesRetries_LogsOneLinePerRefusalAndWarnsAgainInTheNextWindow()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(
            Config(server.Port, minRetriesPerSecond: 0), m => m.AddClient<InventoryClient>("inventory-service"), time, LogLevel.Debug);
        var inventory = client.Get<InventoryClient>();

        // Three calls, three refused retries: the first refusal is the Warning, each later one a Debug line.
        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<RpcException>(() => inventory.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        }

        Assert.Equal([LogLevel.Warning, LogLevel.Debug, LogLevel.Debug], BudgetLines(client).Select(e => e.Level));
        Assert.All(BudgetLines(client).Skip(1), e => Assert.Equal("RetryThrottled", e.EventId.Name));
        Assert.Contains("inventory-service", BudgetLines(client)[0].Message, StringComparison.Ordinal);

        // A whole window later the calls before have left it, and the budget runs dry anew: one Warning again.
        time.Advance(TimeSpan.FromMilliseconds(10_000));
        await Assert.ThrowsAsync<RpcException>(() => inventory.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);

        Assert.Equal([LogLevel.Warning, LogLevel.Debug, LogLevel.Debug, LogLevel.Warning], BudgetLines(client).Select(e => e.Level));
        Assert.Equal(4, client.Get<ISecureMesh>().GetStats().Metrics.RetriesThrottled);
        Assert.Equal(4, script.Calls);
    }

    [Fact]
    public async Task GetStats_RetriesThrottled_InTheJsonPerServiceAndInTotal()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(Config(server.Port, minRetriesPerSecond: 0), m => m.AddClient<InventoryClient>("inventory-service"), time);
        await Assert.ThrowsAsync<RpcException>(() => client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync);

        var json = JsonSerializer.SerializeToElement(client.Get<ISecureMesh>().GetStats(), MeshStatsJsonContext.Default.MeshStats);

        Assert.Equal(1, json.GetProperty("metrics").GetProperty("retriesThrottled").GetInt64());
        Assert.Equal(1, json.GetProperty("services").GetProperty("inventory-service").GetProperty("retriesThrottled").GetInt64());
    }

    [Fact]
    public async Task Reload_OtherRetrySetting_KeepsTheSpentBudget()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(Config(server.Port, minRetriesPerSecond: 0), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var inventory = client.Get<InventoryClient>();
        for (var i = 0; i < 4; i++)
        {
            await Assert.ThrowsAsync<RpcException>(() => inventory.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        }

        client.Reload(("Mesh:Resilience:Retry:MaxAttempts", "2"));
        var fifth = inventory.SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        await time.DriveAsync(fifth);
        await Assert.ThrowsAsync<RpcException>(() => fifth);

        // The four calls before the reload still count: with the fifth they make one retry. An emptied budget would
        // hold a fifth of one, and the fifth call would end after one attempt.
        Assert.Equal(4 + 2, script.Calls);
    }

    [Fact]
    public async Task Call_BudgetDisabled_RetriesAsTheScheduleSays()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(Config(server.Port, minRetriesPerSecond: 0, enabled: false), m => m.AddClient<InventoryClient>("inventory-service"), time);

        var call = client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        await time.DriveAsync(call);

        await Assert.ThrowsAsync<RpcException>(() => call);
        Assert.Equal(4, script.Calls);
    }

    /// <summary>The lines the retry budget wrote (events RetryBudgetExhausted and RetryThrottled), in order.</summary>
    private static List<Infrastructure.TestLoggerProvider.LogEntry> BudgetLines(MeshClientHost client) =>
        [.. client.Logs.Entries.Where(e => e.EventId.Name is "RetryBudgetExhausted" or "RetryThrottled")];

    private static string Config(int port, int minRetriesPerSecond, bool enabled = true) => MeshConfig.For(
        port,
        $$"""{ "Retry": { "Budget": { "Enabled": {{(enabled ? "true" : "false")}}, "RetryRatio": 0.2, "MinRetriesPerSecond": {{minRetriesPerSecond}} } }, "CircuitBreaker": { "Enabled": false } }""");
}
