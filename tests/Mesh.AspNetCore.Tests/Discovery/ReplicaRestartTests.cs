using Microsoft.Extensions.DependencyInjection;
using Grpc.Core;
using Mesh.AspNetCore.Tests.Reliability;
using Mesh.AspNetCore.Tests.Resilience;

namespace Mesh.AspNetCore.Tests.Discovery;

/// <summary>
/// One of three replicas is stopped in the middle of a steady concurrent load and started again on its port. Real time
/// throughout: a real server's sockets go away and come back.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public sealed class ReplicaRestartTests
{
    private const string Resilience = """
        {
          "Retry": { "MaxAttempts": 3, "InitialDelay": 20, "MaxDelay": 200 },
          "CircuitBreaker": { "Timeout": 1000 },
          "OutlierDetection": { "BaseEjectionTime": 500 }
        }
        """;

    [Fact]
    public async Task Calls_OneOfThreeReplicasStoppedAndRestartedUnderLoad_NoCallerFailsAndTheBreakerStaysClosed()
    {
        using var unobserved = UnobservedTaskExceptions.Start();
        await using var replicas = await Replicas.StartAsync(3);
        await using var client = await MeshClientHost.StartAsync(
            Replicas.Config(replicas.Endpoints(0, 1, 2), Resilience), m => m.AddClient<InventoryClient>("inventory-service"));
        var inventory = client.Get<InventoryClient>();
        await MeshLoadBalancerTests.CallUntilAsync(inventory, () => replicas.Calls.All(c => c > 0));

        var load = SteadyLoad.Start(inventory, callers: 4, period: TimeSpan.FromMilliseconds(5), deadline: TimeSpan.FromSeconds(10));
        await replicas.Scripts[1].WaitForCallsAsync(replicas.Scripts[1].Calls + 20);

        await replicas.StopAsync(1);
        var stoppedAt = replicas.Scripts[0].Calls;
        await replicas.Scripts[0].WaitForCallsAsync(stoppedAt + 50);

        await replicas.RestartAsync(1);
        await replicas.Scripts[1].WaitForCallsAsync(20);
        await load.StopAsync(TimeSpan.FromSeconds(30));

        var failures = load.Calls.Where(c => c.Status != StatusCode.OK).ToList();
        Assert.True(failures.Count == 0, $"{failures.Count} of {load.Calls.Count} calls failed: {string.Join("; ", failures.Take(5).Select(f => $"{f.Status} {f.Detail}"))}");
        Assert.True(load.Calls.Count >= 100, $"the load kept going ({load.Calls.Count} calls)");
        Assert.Equal(CircuitState.Closed, client.Get<IMeshClient<InventoryClient>>().CircuitState);
        Assert.DoesNotContain(client.Logs.Entries, e => e.EventId.Name == "CircuitOpened");
        Assert.Empty(await unobserved.CollectAsync());
    }
}
