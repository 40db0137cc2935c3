using Grpc.Core;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>
/// A call waiting for its retry when the caller disposes it, or when the calling application stops: the call ends at
/// once, and no attempt starts afterwards.
/// </summary>
public sealed class DisposeDuringRetryTests
{
    private const string Resilience = """{ "CircuitBreaker": { "FailureThreshold": 100 }, "Retry": { "MaxAttempts": 3, "InitialDelay": 1000 } }""";

    private static readonly EchoRequest Hello = new() { Text = "hello" };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Waits until the retry's backoff (InitialDelay, 1 s) is pending; other timers of the client are passed over.</summary>
    private static async Task<PendingTimer> BackoffAsync(TrackingTimeProvider time)
    {
        while (true)
        {
            var timer = await time.NextTimerAsync();
            if (timer.DueTime == TimeSpan.FromSeconds(1))
            {
                return timer;
            }
        }
    }

    [Fact]
    public async Task Call_DisposedWhileWaitingToRetry_EndsAtOnceCancelledAndNoAttemptFollows()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, Resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var inventory = client.Get<IMeshClient<InventoryClient>>();

        var call = inventory.Client.SayAsync(Hello, cancellationToken: Ct);
        var backoff = await BackoffAsync(time);
        call.Dispose();

        var ended = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.WaitAsync(TimeSpan.FromSeconds(30), Ct));
        time.Advance(TimeSpan.FromMinutes(1));

        Assert.Equal(StatusCode.Cancelled, ended.StatusCode);
        Assert.False(backoff.Fired);
        Assert.Equal(1, script.Calls);
    }

    [Fact]
    public async Task ServerStream_DisposedWhileWaitingToRetry_EndsAtOnceCancelledAndNoAttemptFollows()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { ServerStream = static (_, _, _) => throw new RpcException(new Status(StatusCode.Unavailable, "scripted")) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, Resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var inventory = client.Get<IMeshClient<InventoryClient>>();

        var call = inventory.Client.ServerStream(Hello, cancellationToken: Ct);
        var backoff = await BackoffAsync(time);
        call.Dispose();

        var ended = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct));
        time.Advance(TimeSpan.FromMinutes(1));

        Assert.Equal(StatusCode.Cancelled, ended.StatusCode);
        Assert.False(backoff.Fired);
        Assert.Equal(1, script.Calls);
    }

    [Fact]
    public async Task Call_ApplicationStopsWhileWaitingToRetry_EndsAtOnceAndNoAttemptFollows()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.Unavailable) };
        await using var server = await EchoServer.StartAsync(script);
        var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, Resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var inventory = client.Get<IMeshClient<InventoryClient>>();
        var logs = client.Logs;

        var call = inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        var backoff = await BackoffAsync(time);
        await client.Host.StopAsync(Ct);

        // Ended by the stop itself: the host's disposal, which waits for running calls, does not have to end it.
        var ended = await Assert.ThrowsAsync<RpcException>(() => call.WaitAsync(TimeSpan.FromSeconds(30), Ct));
        client.Host.Dispose();
        time.Advance(TimeSpan.FromMinutes(1));

        Assert.Equal(StatusCode.Cancelled, ended.StatusCode);
        Assert.False(backoff.Fired);
        Assert.Equal(1, script.Calls);
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error);
    }
}
