using System.Collections.Concurrent;
using Grpc.Core;
using Mesh.Samples;

namespace PaymentService;

public sealed class PaymentApi : Payment.PaymentBase
{
    private static readonly ConcurrentDictionary<string, ChargeReply> Charges = new();

    // The service is created per call: the counter belongs to the process, so every charge gets its own id.
    private static long s_transactions;

    public override Task<ChargeReply> Charge(ChargeRequest request, ServerCallContext context)
    {
        var id = Interlocked.Increment(ref s_transactions);
        var reply = new ChargeReply { Ok = request.AmountCents > 0, TransactionId = $"tx-{id}" };
        Charges[request.OrderId] = reply;
        return Task.FromResult(reply);
    }

    public override Task<ChargeReply> GetCharge(GetChargeRequest request, ServerCallContext context) =>
        Charges.TryGetValue(request.OrderId, out var reply)
            ? Task.FromResult(reply)
            : throw new RpcException(new Status(StatusCode.NotFound, $"No charge for order '{request.OrderId}'."));
}
