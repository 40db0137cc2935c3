using System.Collections.Concurrent;
using Grpc.Core;
using Mesh.Samples;

namespace Mesh.AotSample;

/// <summary>An inventory service whose first attempt of every order fails with UNAVAILABLE, as a transient fault would.</summary>
public sealed class FlakyInventoryApi : Inventory.InventoryBase
{
    private readonly ConcurrentDictionary<string, byte> _failedOnce = new();
    private int _stock = 1_000;

    public override Task<ReserveReply> Reserve(ReserveRequest request, ServerCallContext context)
    {
        if (_failedOnce.TryAdd(request.OrderId, 0))
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "inventory: transient failure (injected)"));
        }

        var remaining = Interlocked.Add(ref _stock, -request.Quantity);
        return Task.FromResult(new ReserveReply { Ok = remaining >= 0, Remaining = remaining });
    }
}
