using Grpc.Core;
using Mesh.AspNetCore.Tests.Protos;
using Mesh.AspNetCore.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Reliability;

/// <summary>
/// How long after its deadline a mesh call ends, against a plain grpc-dotnet client calling the same server, whose
/// handler never answers. Both clients are warmed up on the failure path first: the first call in a process that ends
/// with <c>DeadlineExceeded</c> runs code for the first time (grpc-dotnet's deadline path, and for the mesh its retry
/// decision, metrics and logging of a failure), which costs 20 to 40 ms once on a loaded machine, whichever client
/// makes it.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public sealed class DeadlineOvershootTests
{
    private const int Calls = 9;
    private static readonly TimeSpan Budget = TimeSpan.FromMilliseconds(400);

    // The measured difference of the medians is about 1 ms; a timer or a delay added after the deadline would exceed it.
    private static readonly TimeSpan Tolerance = TimeSpan.FromMilliseconds(20);

    [Fact]
    public async Task Call_HandlerNeverAnswers_EndsAsSoonAfterTheDeadlineAsAPlainClient()
    {
        var script = new EchoScript(TimeProvider.System)
        {
            Say = static async (_, context) =>
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, context.CancellationToken);
                return new EchoReply();
            },
        };
        await using var server = await EchoServer.StartAsync(script);

        // DeadlineExceeded retryable: the retry strategy decides, after the deadline, not to retry. The breaker is off
        // so that it does not open on the repeated DeadlineExceeded and reject calls before their deadline.
        var resilience = """{ "Retry": { "MaxAttempts": 5, "InitialDelay": 10, "RetryableStatusCodes": [ "Unavailable", "DeadlineExceeded" ] }, "CircuitBreaker": { "Enabled": false } }""";
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port, resilience), m => m.AddClient<InventoryClient>("inventory-service"));
        using var channel = server.CreateChannel();
        var plain = new Echo.EchoClient(channel);
        var mesh = client.Get<InventoryClient>();
        await OvershootAsync(plain);
        await OvershootAsync(mesh);

        var plainOvershoots = new List<TimeSpan>();
        var meshOvershoots = new List<TimeSpan>();
        for (var i = 0; i < Calls; i++)
        {
            plainOvershoots.Add(await OvershootAsync(plain));
            meshOvershoots.Add(await OvershootAsync(mesh));
        }

        var plainMedian = Median(plainOvershoots);
        var meshMedian = Median(meshOvershoots);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"after the {Budget.TotalMilliseconds} ms deadline: plain client {plainMedian.TotalMilliseconds:0.0} ms, mesh client {meshMedian.TotalMilliseconds:0.0} ms (medians of {Calls})");
        Assert.All(meshOvershoots, o => Assert.True(o >= TimeSpan.Zero, $"a mesh call ended {-o.TotalMilliseconds} ms before its deadline"));
        Assert.True(
            meshMedian <= plainMedian + Tolerance,
            $"mesh calls end {meshMedian.TotalMilliseconds:0.0} ms after the deadline, a plain client's {plainMedian.TotalMilliseconds:0.0} ms");
    }

    /// <summary>Makes one call with a <see cref="Budget"/> deadline and returns how long after the deadline it ended.</summary>
    private static async Task<TimeSpan> OvershootAsync(Echo.EchoClient client)
    {
        var started = TimeProvider.System.GetTimestamp();
        var error = await Assert.ThrowsAsync<RpcException>(() => client.SayAsync(
            new EchoRequest { Text = "hello" }, deadline: DateTime.UtcNow + Budget, cancellationToken: TestContext.Current.CancellationToken).ResponseAsync);
        var elapsed = TimeProvider.System.GetElapsedTime(started);
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        return elapsed - Budget;
    }

    private static TimeSpan Median(List<TimeSpan> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }
}
