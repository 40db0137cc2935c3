using System.Runtime.CompilerServices;
using Grpc.Core;
using Mesh.AspNetCore.Tests.Protos;
using Mesh.AspNetCore.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Reliability;

/// <summary>
/// A caller that disposes a mesh-client call without reading its response, the way <c>using var call = ...</c> does when
/// the caller leaves early, while the downstream fails. gRPC's own client leaves no faulted task unobserved then; a mesh
/// client must not either, or every such call raises <see cref="TaskScheduler.UnobservedTaskException"/>.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public sealed class DisposedCallTests
{
    public static TheoryData<string> CallTypes => ["unary", "server-streaming", "client-streaming", "duplex"];

    [Theory]
    [MemberData(nameof(CallTypes))]
    public async Task Call_DisposedWithoutReadingWhileTheDownstreamFails_LeavesNoUnobservedTaskException(string callType)
    {
        using var unobserved = UnobservedTaskExceptions.Start();

        await DisposeUnreadAsync(callType);

        var exceptions = await unobserved.CollectAsync();
        Assert.True(exceptions.Count == 0, string.Join(" | ", exceptions.Select(e => $"{e.GetType().Name}: {e.Message}")));
    }

    // Not inlined: the calls and their tasks must be unreachable when the test collects garbage.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task DisposeUnreadAsync(string callType)
    {
        var failed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var script = new EchoScript
        {
            Say = (_, _) => Fail<EchoReply>(failed),
            ServerStream = (_, _, _) => Fail<EchoReply>(failed),
            ClientStream = (_, _) => Fail<EchoReply>(failed),
            Duplex = (_, _, _) => Fail<EchoReply>(failed),
        };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(
            MeshConfig.For(server.Port, """{ "Retry": { "MaxAttempts": 1, "InitialDelay": 10 } }"""),
            mesh => mesh.AddClient<InventoryClient>("inventory-service"));
        var inventory = client.Get<InventoryClient>();
        var request = new EchoRequest { Text = "left unread" };
        var ct = TestContext.Current.CancellationToken;

        IDisposable call = callType switch
        {
            "unary" => inventory.SayAsync(request, cancellationToken: ct),
            "server-streaming" => inventory.ServerStream(request, cancellationToken: ct),
            "client-streaming" => inventory.ClientStream(cancellationToken: ct),
            _ => inventory.Duplex(cancellationToken: ct),
        };
        await failed.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
        call.Dispose();

        // The call's own work (its backoff, its completion) ends on its own; wait for the pipeline to settle on a signal:
        // the next call through the same client completes after it.
        await Assert.ThrowsAsync<RpcException>(() => inventory.SayAsync(request, cancellationToken: ct).ResponseAsync);
    }

    private static Task<T> Fail<T>(TaskCompletionSource failed)
    {
        failed.TrySetResult();
        throw new RpcException(new Status(StatusCode.Unavailable, "down"));
    }
}
