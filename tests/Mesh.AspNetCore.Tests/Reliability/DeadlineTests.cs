using Grpc.Core;
using Mesh.AspNetCore.Tests.Protos;
using Mesh.AspNetCore.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Reliability;

/// <summary>
/// A slow downstream: handlers that take longer than the call's deadline. Real time: the deadline is enforced by the gRPC
/// client and server on the real clock, so the retry strategy's deadline check must agree with it.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public sealed class DeadlineTests
{
    private static readonly EchoRequest Hello = new() { Text = "hello" };
    private static readonly EchoRequest WarmUp = new() { Text = "warm-up" };

    // Upper bounds are generous (a loaded machine with two cores); lower bounds are exact.
    private static readonly TimeSpan Margin = TimeSpan.FromMilliseconds(750);

    [Fact]
    public async Task Call_HandlerNeverAnswersAndDeadlineExceededIsRetryable_EndsAtTheDeadlineWithOneAttempt()
    {
        var script = new EchoScript(TimeProvider.System)
        {
            Say = AfterWarmUp(async (_, context) =>
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, context.CancellationToken);
                return new EchoReply();
            }),
        };
        var resilience = """{ "Retry": { "MaxAttempts": 5, "InitialDelay": 10, "RetryableStatusCodes": [ "Unavailable", "DeadlineExceeded" ] } }""";
        await using var server = await EchoServer.StartAsync(script);
        using var timeline = new CallTimeline();
        await using var client = await StartClientAsync(server.Port, resilience, timeline);
        var warm = await WarmUpAsync(client, timeline);
        var budget = TimeSpan.FromMilliseconds(400);

        var (status, elapsed, deadline) = await CallAsync(client, budget);

        Assert.Equal(StatusCode.DeadlineExceeded, status);
        Assert.True(elapsed >= budget, $"ended after {elapsed.TotalMilliseconds} ms, before its {budget.TotalMilliseconds} ms deadline");
        Assert.True(elapsed <= budget + Margin, $"ended {elapsed.TotalMilliseconds} ms after it started, deadline {budget.TotalMilliseconds} ms");
        Assert.Equal(1, timeline.Snapshot().Count(e => e.Event == TimelineEvent.AttemptStarted && e.Index > warm.Index));
        Assert.Equal(1, script.Calls - 1);
        Assert.All(script.CallTimes, t => Assert.True(t < deadline));
    }

    [Fact]
    public async Task Call_SlowFailingAttempts_RetriesOnlyWhileTheyCanStartBeforeTheDeadline()
    {
        // Each attempt takes 100 ms and fails with UNAVAILABLE; backoff 100, 200, 400 ms... Attempts start at about
        // 0, 200 and 500 ms; the next would start at about 1000 ms, after the 800 ms deadline, so it is not made.
        var script = new EchoScript(TimeProvider.System)
        {
            Say = AfterWarmUp(async (_, context) =>
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), context.CancellationToken);
                throw new RpcException(new Status(StatusCode.Unavailable, "slow and failing"));
            }),
        };
        var resilience = """{ "Retry": { "MaxAttempts": 10, "InitialDelay": 100 }, "CircuitBreaker": { "Enabled": false } }""";
        await using var server = await EchoServer.StartAsync(script);
        using var timeline = new CallTimeline();
        await using var client = await StartClientAsync(server.Port, resilience, timeline);
        var warm = await WarmUpAsync(client, timeline);
        var budget = TimeSpan.FromMilliseconds(800);

        var (status, elapsed, deadline) = await CallAsync(client, budget);

        var entries = timeline.Snapshot();
        var attempts = entries.Count(e => e.Event == TimelineEvent.AttemptStarted && e.Index > warm.Index);
        Assert.True(status is StatusCode.Unavailable or StatusCode.DeadlineExceeded, $"ended with {status}");
        Assert.True(attempts >= 2, $"{attempts} attempts: the backoff fits the deadline at least once; {status} after {elapsed.TotalMilliseconds} ms: {CallTimeline.Describe(entries)}");
        Assert.True(attempts <= 3, $"{attempts} attempts: 0 + 100 + 100 + 100 + 200 + 100 + 400 ms would pass the deadline");
        Assert.True(elapsed <= budget + Margin, $"ended {elapsed.TotalMilliseconds} ms after it started, deadline {budget.TotalMilliseconds} ms");
        Assert.Equal(attempts, script.Calls - 1);
        Assert.All(script.CallTimes, t => Assert.True(t < deadline, $"an attempt reached the server {(t - deadline).TotalMilliseconds} ms after the deadline"));
    }

    [Fact]
    public async Task Call_PushbackLongerThanTheTimeLeft_EndsAtOnceWithTheServersStatus()
    {
        var script = new EchoScript(TimeProvider.System)
        {
            Say = AfterWarmUp(EchoScript.FailWith(StatusCode.ResourceExhausted, new Metadata { { "grpc-retry-pushback-ms", "5000" } })),
        };
        await using var server = await EchoServer.StartAsync(script);
        using var timeline = new CallTimeline();
        await using var client = await StartClientAsync(server.Port, """{ "Retry": { "InitialDelay": 10 } }""", timeline);
        await WarmUpAsync(client, timeline);
        var budget = TimeSpan.FromSeconds(2);

        var (status, elapsed, _) = await CallAsync(client, budget);

        Assert.Equal(StatusCode.ResourceExhausted, status);
        Assert.True(elapsed < budget, $"waited {elapsed.TotalMilliseconds} ms for a retry that could not finish in time");
        Assert.Equal(1, script.Calls - 1);
    }

    /// <summary>The scripted handler, except that a warm-up request is answered at once.</summary>
    private static Func<EchoRequest, ServerCallContext, Task<EchoReply>> AfterWarmUp(Func<EchoRequest, ServerCallContext, Task<EchoReply>> handler) =>
        (request, context) => request.Text == WarmUp.Text ? Task.FromResult(new EchoReply { Text = WarmUp.Text }) : handler(request, context);

    /// <summary>
    /// One call before the measured one, so that the first connection and the code's first run (slow on a loaded
    /// machine) do not count against the measured call's deadline. Returns the timeline mark after it.
    /// </summary>
    private static async Task<TimelineEntry> WarmUpAsync(MeshClientHost client, CallTimeline timeline)
    {
        await client.Get<InventoryClient>().SayAsync(WarmUp, cancellationToken: TestContext.Current.CancellationToken);
        return timeline.Mark("warmed up");
    }

    private static Task<MeshClientHost> StartClientAsync(int port, string resilience, CallTimeline timeline) =>
        MeshClientHost.StartAsync(
            MeshConfig.For(port, resilience),
            mesh =>
            {
                mesh.AddClient<InventoryClient>("inventory-service");
                timeline.RecordAttemptsOf<InventoryClient>(mesh.Services);
            });

    private static async Task<(StatusCode Status, TimeSpan Elapsed, DateTimeOffset Deadline)> CallAsync(MeshClientHost client, TimeSpan budget)
    {
        var started = CallTimeline.Clock.GetTimestamp();
        var deadline = TimeProvider.System.GetUtcNow() + budget;
        StatusCode status;
        try
        {
            await client.Get<InventoryClient>().SayAsync(Hello, deadline: deadline.UtcDateTime, cancellationToken: TestContext.Current.CancellationToken);
            status = StatusCode.OK;
        }
        catch (RpcException ex)
        {
            status = ex.StatusCode;
        }

        var elapsed = CallTimeline.Clock.GetElapsedTime(started);
        TestContext.Current.TestOutputHelper?.WriteLine($"{status} after {elapsed.TotalMilliseconds:0.0} ms, deadline {budget.TotalMilliseconds} ms");
        return (status, elapsed, deadline);
    }
}
