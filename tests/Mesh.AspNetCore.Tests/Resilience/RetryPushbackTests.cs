using Grpc.Core;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>A server's pushback is input from the network: honoured up to <c>MaxDelay</c> and the deadline, never trusted past them.</summary>
public sealed class RetryPushbackTests
{
    private static readonly EchoRequest Hello = new() { Text = "hello" };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("grpc-retry-pushback-ms", "9223372036854775807")]
    [InlineData("grpc-retry-pushback-ms", "5000000000")]
    [InlineData("grpc-retry-pushback-ms", "3600000")]
    [InlineData("grpc-retry-pushback-ms", "30001")]
    [InlineData("retry-after", "9223372036854775807")]
    [InlineData("retry-after", "99999999999")]
    [InlineData("retry-after", "3600")]
    [InlineData("retry-after", "31")]
    public async Task Call_PushbackPastMaxDelay_EndsWithTheStatusAtOnce(string trailer, string value)
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.ResourceExhausted, new Metadata { { trailer, value } }) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port), m => m.AddClient<InventoryClient>("inventory-service"), time);

        // Guarded: a call that honoured the pushback would wait on the fake clock for ever.
        using var guard = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        guard.CancelAfter(TimeSpan.FromSeconds(20));
        var error = await Assert.ThrowsAsync<RpcException>(
            () => client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: guard.Token).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal(value, error.Trailers.GetValue(trailer));
        Assert.Equal(1, script.Calls);
        Assert.False(time.HasPendingTimer);
    }

    [Theory]
    [InlineData("grpc-retry-pushback-ms", "30000", 30000)]
    [InlineData("retry-after", "30", 30000)]
    public async Task Call_PushbackEqualToMaxDelay_IsHonoured(string trailer, string value, int expectedDelayMs)
    {
        var time = new TrackingTimeProvider();
        var failures = 0;
        var script = new EchoScript(time)
        {
            Say = (r, _) => Interlocked.Increment(ref failures) == 1
                ? throw new RpcException(new Status(StatusCode.ResourceExhausted, "Rate limit exceeded"), new Metadata { { trailer, value } })
                : Task.FromResult(new EchoReply { Text = r.Text }),
        };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port), m => m.AddClient<InventoryClient>("inventory-service"), time);

        var call = client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync;
        var delays = await time.DriveAsync(call);

        Assert.Equal("hello", (await call).Text);
        Assert.Equal([(double)expectedDelayMs], delays.Select(d => d.TotalMilliseconds));
    }

    [Fact]
    public async Task Call_PushbackPastTheDeadline_EndsWithTheStatusAtOnce()
    {
        var time = new TrackingTimeProvider();
        var script = new EchoScript(time) { Say = EchoScript.FailWith(StatusCode.ResourceExhausted, new Metadata { { "grpc-retry-pushback-ms", "20000" } }) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await MeshClientHost.StartAsync(MeshConfig.For(server.Port), m => m.AddClient<InventoryClient>("inventory-service"), time);

        var call = client.Get<InventoryClient>().SayAsync(Hello, deadline: time.GetUtcNow().UtcDateTime.AddSeconds(10), cancellationToken: Ct).ResponseAsync;

        var error = await Assert.ThrowsAsync<RpcException>(() => call.WaitAsync(TimeSpan.FromSeconds(30), Ct));
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal(1, script.Calls);
        Assert.False(time.HasPendingTimer);
    }
}
