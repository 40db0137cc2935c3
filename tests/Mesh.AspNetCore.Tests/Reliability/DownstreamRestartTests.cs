using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.ClientFactory;
using Mesh.AspNetCore.Tests.Infrastructure;
using Mesh.AspNetCore.Tests.Resilience;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Tests.Reliability;

/// <summary>
/// A downstream Kestrel server is stopped in the middle of a steady load of mesh-client calls and restarted on the same
/// port. Real time throughout: a real process's sockets go away and come back, and the breaker's timeout is short.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public sealed class DownstreamRestartTests
{
    private const int FailureThreshold = 3;
    private const int SuccessThreshold = 2;
    private const int BreakMs = 300;
    private const int Callers = 4;

    private static readonly TimeSpan CallDeadline = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan DeadlineMargin = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private static readonly string Resilience = $$"""
        {
          "CircuitBreaker": { "FailureThreshold": {{FailureThreshold}}, "SuccessThreshold": {{SuccessThreshold}}, "Timeout": {{BreakMs}} },
          "Retry": { "MaxAttempts": 2, "InitialDelay": 20, "MaxDelay": 100 }
        }
        """;

    [Fact]
    public async Task Calls_DownstreamStoppedAndRestartedUnderLoad_EveryCallEndsAndTheBreakerOpensThenCloses()
    {
        using var unobserved = UnobservedTaskExceptions.Start();

        await RestartUnderLoadAsync();

        Assert.Empty(await unobserved.CollectAsync());
    }

    /// <summary>
    /// The restart test shows the effect when the restart comes just after one of the channel's connection attempts;
    /// this one pins the cause for every restart: the channel never waits longer between connection attempts than the
    /// mesh waits before trying the service again.
    /// </summary>
    [Theory]
    [InlineData("""{ "CircuitBreaker": { "Timeout": 300 } }""", 300, 300)]
    [InlineData("""{ }""", 1_000, 60_000)]
    [InlineData("""{ "CircuitBreaker": { "Enabled": false }, "Retry": { "MaxDelay": 5000 } }""", 1_000, 5_000)]
    [InlineData("""{ "CircuitBreaker": { "Timeout": 600000 } }""", 1_000, 120_000)]
    public async Task AddClient_ChannelReconnectBackoff_NoLongerThanTheMeshWaitsToTryAgain(string resilience, int initialMs, int maxMs)
    {
        using var refused = new RefusedPort();
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(refused.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"));
        var factoryOptions = client.Get<IOptionsMonitor<GrpcClientFactoryOptions>>().Get(nameof(InventoryClient));
        var channel = new GrpcChannelOptions();

        foreach (var configure in factoryOptions.ChannelOptionsActions)
        {
            configure(channel);
        }

        Assert.Equal((TimeSpan.FromMilliseconds(initialMs), TimeSpan.FromMilliseconds(maxMs)), (channel.InitialReconnectBackoff, channel.MaxReconnectBackoff));
    }

    // Not inlined: the hosts, channels and tasks of the scenario must be unreachable when the test collects garbage.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task RestartUnderLoadAsync()
    {
        var script = new EchoScript();
        using var timeline = new CallTimeline();
        var server = await StartDownstreamAsync(0, script);
        var port = server.Port; // the restarted server must come back on the port the client knows
        await using var client = await MeshClientHost.StartAsync(
            MeshConfig.For(port, Resilience),
            mesh =>
            {
                mesh.AddClient<InventoryClient>("inventory-service");
                timeline.RecordAttemptsOf<InventoryClient>(mesh.Services);
            });
        timeline.RecordTransitionsOf(client.Services);
        var inventory = client.Get<IMeshClient<InventoryClient>>();

        var load = SteadyLoad.Start(inventory.Client, Callers, TimeSpan.FromMilliseconds(5), CallDeadline);
        await timeline.WaitUntilAsync(e => e.Count(x => x.Event == TimelineEvent.AttemptSucceeded) >= 40, "40 successful calls", Patience);

        var stop = timeline.Mark("stopping the server");
        await server.DisposeAsync();
        await timeline.WaitUntilAsync(e => e.Count(x => x.Event == TimelineEvent.Opened) >= 4, "three half-open trials failing while the server is down", Patience);
        await ResetNextConnectionAsync(port);
        server = await StartDownstreamAsync(port, script);
        var restart = timeline.Mark("server restarted");
        await timeline.WaitUntilAsync(
            e => e.SkipWhile(x => x.Event != TimelineEvent.Closed).Count(x => x.Event == TimelineEvent.AttemptSucceeded) >= 40,
            "the breaker closed and 40 calls succeeded after it",
            Patience);
        await load.StopAsync(CallDeadline + DeadlineMargin);
        var stateAtEnd = inventory.CircuitState;
        await server.DisposeAsync();

        var entries = timeline.Snapshot();
        var described = CallTimeline.Describe(entries);

        // Every call is accounted for: it ended, with a response or one RpcException, within its deadline.
        var calls = load.Calls;
        Assert.Equal(load.Started, calls.Count);
        // Refused connections end UNAVAILABLE; a call the stopping server cut off may (rarely) end with another status.
        // None was cancelled, timed out or failed for a reason the mesh could not name.
        Assert.All(calls, c => Assert.False(
            c.Status is StatusCode.DeadlineExceeded or StatusCode.Cancelled or StatusCode.Unknown, $"a call ended with {c.Status}: {c.Detail}"));
        Assert.All(calls, c => Assert.True(c.Duration <= CallDeadline + DeadlineMargin, $"a call took {c.Duration}"));
        Assert.Contains(calls, c => c.Status == StatusCode.Unavailable);

        // The breaker's transitions after the stop: open, then (half-open, open)* while down, then half-open, closed.
        var transitions = InStateOrder(entries);
        Assert.True(transitions[0].Index > stop.Index, described);
        Assert.Equal(TimelineEvent.Closed, transitions[^1].Event);
        for (var i = 0; i < transitions.Count - 1; i++)
        {
            var expected = i % 2 == 0 ? TimelineEvent.Opened : TimelineEvent.HalfOpened;
            Assert.True(transitions[i].Event == expected, $"transition {i} is {transitions[i].Event}, expected {expected}: {described}");
        }

        // It opens after FailureThreshold failed attempts; attempts already in flight on the other callers may fail too.
        var opened = transitions[0];
        var beforeOpen = Between(entries, stop, opened);
        var failedBeforeOpen = beforeOpen.Where(e => e.Event == TimelineEvent.AttemptFailed).ToList();
        var lastSuccess = beforeOpen.LastOrDefault(e => e.Event == TimelineEvent.AttemptSucceeded);
        var failedAfterLastSuccess = failedBeforeOpen.Count(e => e.Index > lastSuccess.Index);
        Assert.True(failedBeforeOpen.Count >= FailureThreshold, described);
        Assert.True(failedAfterLastSuccess <= FailureThreshold + (2 * (Callers - 1)), $"{failedAfterLastSuccess} failed attempts before it opened: {described}");

        // While open, calls fail at once without reaching the network (only attempts admitted before it opened may start).
        var firstHalfOpen = transitions[1];
        var whileOpen = Between(entries, opened, firstHalfOpen);
        var failedFastWhileOpen = calls.Count(c => c.Started > opened.Timestamp && c.Ended < firstHalfOpen.Timestamp);
        Assert.True(whileOpen.Count(e => e.Event == TimelineEvent.AttemptStarted) <= Callers - 1, described);
        Assert.True(failedFastWhileOpen >= 10, $"only {failedFastWhileOpen} calls ended while the breaker was open");

        // Each half-open comes at least Timeout after the failure that opened the breaker: the FailureThreshold-th failed
        // attempt after the stop for the first; for the next ones, the first failure recorded after the open before the
        // previous half-open (the failed trial of that half-open, or an earlier one). Failures are recorded before the
        // breaker sees them, so the measured gap is never longer than the real one.
        var openedBy = failedBeforeOpen[FailureThreshold - 1].Timestamp;
        for (var i = 1; i < transitions.Count; i += 2)
        {
            var halfOpen = transitions[i];
            Assert.Equal(TimelineEvent.HalfOpened, halfOpen.Event);
            var sinceOpened = CallTimeline.Clock.GetElapsedTime(openedBy, halfOpen.Timestamp);
            Assert.True(sinceOpened >= TimeSpan.FromMilliseconds(BreakMs), $"half-open {sinceOpened.TotalMilliseconds} ms after it opened: {described}");
            openedBy = entries.FirstOrDefault(e => e.Index > transitions[i - 1].Index && e.Event == TimelineEvent.AttemptFailed).Timestamp;
        }

        // It closes after the restart, once SuccessThreshold trials succeeded, with at most SuccessThreshold trials at once.
        // (Counted from the open before the last half-open: no attempt starts while the breaker is open.)
        var lastOpen = transitions[^3];
        var closed = transitions[^1];
        var trials = Between(entries, lastOpen, closed);
        Assert.True(closed.Index > restart.Index, described);
        // A trial's success is recorded before the breaker counts it, so a third trial (admitted when the first freed
        // its slot) may be recorded as successful before the breaker closed on the second.
        Assert.True(trials.Count(e => e.Event == TimelineEvent.AttemptSucceeded) >= SuccessThreshold, described);
        Assert.True(MostAtOnce(trials) <= SuccessThreshold, described);

        // Once the server is back, the trials reach it: the gRPC channel's own reconnect backoff (1 s growing to 120 s by
        // default) does not keep failing them. A trial that started before the restart may fail after it, and the next
        // one may come before the channel's next connection attempt; the one after that reaches the server.
        var halfOpensAfterRestart = transitions.Count(t => t.Event == TimelineEvent.HalfOpened && t.Index > restart.Index);
        Assert.True(halfOpensAfterRestart <= 3, $"{halfOpensAfterRestart} half-open periods after the restart: {described}");
        Assert.DoesNotContain(entries, e => e.Index > closed.Index && e.Event == TimelineEvent.AttemptFailed);
        Assert.Equal(CircuitState.Closed, stateAtEnd);
    }

    /// <summary>
    /// The breaker's transitions as reported, checking that each follows from the one before: they are reported in the
    /// order they happened, even when two threads cause them at nearly the same moment (a half-open trial admitted on one
    /// thread failing before the thread that moved the breaker to half-open reported it).
    /// </summary>
    private static List<TimelineEntry> InStateOrder(IReadOnlyList<TimelineEntry> entries)
    {
        var transitions = entries.Where(e => e.Event is TimelineEvent.Opened or TimelineEvent.HalfOpened or TimelineEvent.Closed).ToList();
        var state = "closed";
        foreach (var transition in transitions)
        {
            Assert.True(transition.Note == state, $"#{transition.Index} {transition.Event} from {transition.Note} reported while the breaker was {state}: {CallTimeline.Describe(entries)}");
            state = transition.Event switch
            {
                TimelineEvent.Opened => "open",
                TimelineEvent.HalfOpened => "half_open",
                _ => "closed",
            };
        }

        return transitions;
    }

    /// <summary>The most attempts in flight at the same time.</summary>
    private static int MostAtOnce(IEnumerable<TimelineEntry> entries)
    {
        int inFlight = 0, most = 0;
        foreach (var e in entries)
        {
            inFlight += e.Event switch
            {
                TimelineEvent.AttemptStarted => 1,
                TimelineEvent.AttemptSucceeded or TimelineEvent.AttemptFailed => -1,
                _ => 0,
            };
            most = Math.Max(most, inFlight);
        }

        return most;
    }

    private static List<TimelineEntry> Between(IReadOnlyList<TimelineEntry> entries, TimelineEntry from, TimelineEntry to) =>
        [.. entries.Where(e => e.Index > from.Index && e.Index < to.Index)];

    /// <summary>
    /// Still down, but the port now accepts a connection only to reset it: returns right after the client's channel
    /// tried to connect, so that the restart comes just after a failed connection attempt, as far as possible from the
    /// channel's next one.
    /// </summary>
    private static async Task ResetNextConnectionAsync(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        try
        {
            using var connection = await listener.AcceptSocketAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(Patience, TestContext.Current.CancellationToken);
            connection.LingerState = new LingerOption(true, 0);
        }
        finally
        {
            listener.Stop();
        }
    }

    private static Task<MeshTestHost> StartDownstreamAsync(int port, EchoScript script) =>
        MeshTestHost.StartAsync(
            null,
            b =>
            {
                b.Services.AddGrpc();
                b.Services.AddSingleton(script);
            },
            app => app.MapGrpcService<ScriptedEcho>(),
            port);
}
