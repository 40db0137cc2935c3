using Grpc.Core;
using Mesh.Samples;

namespace OrderService;

public sealed class OrdersApi(OrderPlacement placement) : Orders.OrdersBase
{
    public override Task<OrderReply> Place(OrderRequest request, ServerCallContext context) =>
        placement.PlaceAsync(request, context.Deadline == DateTime.MaxValue ? null : context.Deadline, context.CancellationToken);
}
