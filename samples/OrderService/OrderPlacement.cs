using Grpc.Core;
using Mesh.AspNetCore;
using Mesh.Samples;

namespace OrderService;

/// <summary>Places an order: reserve stock, then charge. A downstream failure becomes a rejected order, not an error.</summary>
public sealed class OrderPlacement(IMeshClient<Inventory.InventoryClient> inventory, IMeshClient<Payment.PaymentClient> payment)
{
    private long _orders;

    public async Task<OrderReply> PlaceAsync(OrderRequest order, DateTime? deadline, CancellationToken cancellationToken)
    {
        var orderId = $"order-{Interlocked.Increment(ref _orders)}";
        try
        {
            var reserved = await inventory.Client.ReserveAsync(
                new ReserveRequest { Sku = order.Sku, Quantity = order.Quantity, OrderId = orderId },
                deadline: deadline,
                cancellationToken: cancellationToken);
            if (!reserved.Ok)
            {
                return new OrderReply { OrderId = orderId, Detail = "out of stock" };
            }

            var charged = await payment.Client.ChargeAsync(
                new ChargeRequest { OrderId = orderId, AmountCents = order.AmountCents },
                deadline: deadline,
                cancellationToken: cancellationToken);
            return new OrderReply { Accepted = charged.Ok, OrderId = orderId, Detail = charged.TransactionId };
        }
        catch (RpcException ex) when (ex.StatusCode != StatusCode.Cancelled)
        {
            return new OrderReply { OrderId = orderId, Detail = $"{ex.StatusCode}: {ex.Status.Detail}" };
        }
    }
}
