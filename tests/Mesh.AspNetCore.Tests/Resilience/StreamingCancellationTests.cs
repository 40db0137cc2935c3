using Grpc.Core;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>
/// A server-streaming call read with a cancellation token: a mesh client behaves as gRPC's own client does, whatever
/// the mesh does around the first message (its retries).
/// </summary>
public sealed class StreamingCancellationTests
{
    private static readonly EchoRequest Hello = new() { Text = "hello" };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> Clients => ["grpc", "mesh"];

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task ServerStream_FirstMoveNextCancelledByItsToken_ThrowsCancelledAndCancelsTheCall(string kind)
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var script = new EchoScript
        {
            ServerStream = async (r, writer, context) =>
            {
                await release.Task.WaitAsync(context.CancellationToken);
                await writer.WriteAsync(new EchoReply { Text = "first" });
                await writer.WriteAsync(new EchoReply { Text = "second" });
            },
        };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port), m => m.AddClient<InventoryClient>("inventory-service"));
        using var channel = server.CreateChannel();
        Echo.EchoClient echo = kind == "mesh" ? client.Get<InventoryClient>() : new Echo.EchoClient(channel);

        using var call = echo.ServerStream(Hello, cancellationToken: Ct);
        using var read = new CancellationTokenSource();
        var first = call.ResponseStream.MoveNext(read.Token);
        await script.WaitForCallsAsync(1);
        await read.CancelAsync();

        var error = await Assert.ThrowsAsync<RpcException>(() => first.WaitAsync(TimeSpan.FromSeconds(30), Ct));
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        release.TrySetResult();

        // As with gRPC's own client, the call is over: the next read fails the same way, and no retry starts.
        var next = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct));
        Assert.Equal(StatusCode.Cancelled, next.StatusCode);
        Assert.Equal(StatusCode.Cancelled, call.GetStatus().StatusCode);
        Assert.Equal(1, script.Calls);
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task ServerStream_FirstMoveNextTokenNotCancelled_ReadsEveryMessage(string kind)
    {
        var script = new EchoScript();
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port), m => m.AddClient<InventoryClient>("inventory-service"));
        using var channel = server.CreateChannel();
        Echo.EchoClient echo = kind == "mesh" ? client.Get<InventoryClient>() : new Echo.EchoClient(channel);
        using var read = new CancellationTokenSource();

        using var call = echo.ServerStream(new EchoRequest { Text = "m", Count = 3 }, cancellationToken: Ct);
        var texts = new List<string>();
        while (await call.ResponseStream.MoveNext(read.Token).WaitAsync(TimeSpan.FromSeconds(30), Ct))
        {
            texts.Add(call.ResponseStream.Current.Text);
        }

        await read.CancelAsync();
        Assert.Equal(["m", "m", "m"], texts);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }
    [Fact]
    public async Task ServerStream_FirstMoveNextCancelledDuringBackoff_ThrowsCancelledAndMakesNoFurtherAttempt()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { ServerStream = (_, _, _) => throw new RpcException(new Status(StatusCode.Unavailable, "down")) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port), m => m.AddClient<InventoryClient>("inventory-service"), time);

        using var call = client.Get<InventoryClient>().ServerStream(Hello, cancellationToken: Ct);
        using var read = new CancellationTokenSource();
        var first = call.ResponseStream.MoveNext(read.Token);
        var backoff = await time.NextTimerAsync();
        await read.CancelAsync();

        var error = await Assert.ThrowsAsync<RpcException>(() => first.WaitAsync(TimeSpan.FromSeconds(30), Ct));
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        time.Advance(backoff.DueTime);
        var next = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct));
        Assert.Equal(StatusCode.Cancelled, next.StatusCode);
        Assert.Equal(1, script.Calls);
    }
}
