using System.Collections.Concurrent;
using Grpc.Core;
using Mesh.Samples;

namespace InventoryService;

public sealed class InventoryApi(FaultInjector faults) : Inventory.InventoryBase
{
    private static readonly ConcurrentDictionary<string, int> Stock = new();
    private static readonly ConcurrentDictionary<string, Lazy<ReserveReply>> Reservations = new();

    public override Task<ReserveReply> Reserve(ReserveRequest request, ServerCallContext context)
    {
        faults.ThrowIfFailing(request.OrderId);

        // Idempotent per order (inventory.proto declares it): a repeated reservation returns the first one's reply.
        var reservation = string.IsNullOrEmpty(request.OrderId)
            ? new Lazy<ReserveReply>(() => Take(request))
            : Reservations.GetOrAdd(request.OrderId, static (_, r) => new Lazy<ReserveReply>(() => Take(r)), request);
        return Task.FromResult(reservation.Value);
    }

    private static ReserveReply Take(ReserveRequest request)
    {
        var remaining = Stock.AddOrUpdate(request.Sku, 1_000_000 - request.Quantity, (_, left) => left - request.Quantity);
        return new ReserveReply { Ok = remaining >= 0, Remaining = remaining };
    }
}
