using Grpc.Core;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>What counts toward the breaker, through real calls: the configured failure statuses, and never the caller's cancellation.</summary>
public sealed class BreakerCountingTests
{
    private static readonly EchoRequest Hello = new() { Text = "hello" };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Breaker_FailCancelFail_CancellationIsNeutralAndTheBreakerOpens()
    {
        var time = new TrackingTimeProvider();
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        var script = new EchoScript(time)
        {
            Say = async (_, context) =>
            {
                if (Interlocked.Increment(ref calls) == 2)
                {
                    await hold.Task.WaitAsync(context.CancellationToken);
                }

                throw new RpcException(new Status(StatusCode.Unavailable, "down"));
            },
        };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "CircuitBreaker": { "FailureThreshold": 2 }, "Retry": { "Enabled": false } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var inventory = client.Get<IMeshClient<InventoryClient>>();

        await Assert.ThrowsAsync<RpcException>(() => inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        using var cancel = new CancellationTokenSource();
        var cancelled = inventory.Client.SayAsync(Hello, cancellationToken: cancel.Token).ResponseAsync;
        await script.WaitForCallsAsync(2);
        await cancel.CancelAsync();
        Assert.Equal(StatusCode.Cancelled, (await Assert.ThrowsAsync<RpcException>(() => cancelled)).StatusCode);
        Assert.Equal(CircuitState.Closed, inventory.CircuitState);

        await Assert.ThrowsAsync<RpcException>(() => inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(CircuitState.Open, inventory.CircuitState);
    }

    [Fact]
    public async Task Breaker_ConfiguredFailureStatusCodes_OnlyThoseOpenIt()
    {
        var time = new TrackingTimeProvider();
        var next = StatusCode.Unavailable;
        var script = new EchoScript(time) { Say = (_, _) => throw new RpcException(new Status(next, "scripted")) };
        await using var server = await EchoServer.StartAsync(script);
        var resilience = """{ "CircuitBreaker": { "FailureThreshold": 2, "FailureStatusCodes": [ "Internal" ] }, "Retry": { "Enabled": false } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"), time);
        var inventory = client.Get<IMeshClient<InventoryClient>>();

        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<RpcException>(() => inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        }

        Assert.Equal(CircuitState.Closed, inventory.CircuitState);
        next = StatusCode.Internal;
        await Assert.ThrowsAsync<RpcException>(() => inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        await Assert.ThrowsAsync<RpcException>(() => inventory.Client.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        Assert.Equal(CircuitState.Open, inventory.CircuitState);
    }

    [Fact]
    public async Task StreamingCalls_ClientStreamingAndDuplex_CarryTheServiceIdHeader()
    {
        var script = new EchoScript();
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port), m => m.AddClient<InventoryClient>("inventory-service"));
        var inventory = client.Get<InventoryClient>();

        using (var call = inventory.ClientStream(cancellationToken: Ct))
        {
            await call.RequestStream.CompleteAsync();
            await call.ResponseAsync;
        }

        using (var call = inventory.Duplex(cancellationToken: Ct))
        {
            await call.RequestStream.CompleteAsync();
            Assert.False(await call.ResponseStream.MoveNext(Ct));
        }

        Assert.Equal(["order-service", "order-service"], script.Callers);
    }
}
