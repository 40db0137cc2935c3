using System.Collections.Concurrent;
using Grpc.Core;
using Mesh.Samples;

namespace InventoryService;

public sealed class InventoryApi(FaultInjector faults) : Inventory.InventoryBase
{
    private static readonly ConcurrentDictionary<string, int> Stock = new();

    public override Task<ReserveReply> Reserve(ReserveRequest request, ServerCallContext context)
    {
        faults.ThrowIfFailing(request.OrderId);
        var remaining = Stock.AddOrUpdate(request.Sku, 1_000_000 - request.Quantity, (_, left) => left - request.Quantity);
        return Task.FromResult(new ReserveReply { Ok = remaining >= 0, Remaining = remaining });
    }
}
