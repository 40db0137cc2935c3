using Grpc.Core;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>An open breaker under load logs its opening, not every call it rejects.</summary>
public sealed class CircuitBreakerLoggingTests
{
    [Fact]
    public async Task RejectedCalls_WhileOpen_LogNothingAtInformationOrAbove()
    {
        await using var server = await EchoServer.StartAsync(new EchoScript { Say = EchoScript.FailWith(StatusCode.Unavailable) });
        await using var client = await MeshClientHost.StartAsync(
            MeshConfig.For(server.Port, """{ "Retry": { "Enabled": false }, "CircuitBreaker": { "FailureThreshold": 1, "Timeout": 600000 } }"""),
            mesh => mesh.AddClient<InventoryClient>("inventory-service"));
        var inventory = client.Get<InventoryClient>();
        await Assert.ThrowsAnyAsync<RpcException>(() => inventory.SayAsync(new EchoRequest(), cancellationToken: TestContext.Current.CancellationToken).ResponseAsync);
        var afterOpening = client.Logs.Entries.Count;
        Assert.Contains(client.Logs.Entries, e => e.EventId.Id == 3001 && e.Level == LogLevel.Warning);

        for (var i = 0; i < 20; i++)
        {
            var rejected = await Assert.ThrowsAnyAsync<RpcException>(() => inventory.SayAsync(new EchoRequest(), cancellationToken: TestContext.Current.CancellationToken).ResponseAsync);
            Assert.Equal(StatusCode.Unavailable, rejected.StatusCode);
        }

        Assert.Equal(afterOpening, client.Logs.Entries.Count);
    }
}
