using Grpc.Core;
using Mesh.Samples;

namespace PaymentService;

public sealed class PaymentApi : Payment.PaymentBase
{
    private long _transactions;

    public override Task<ChargeReply> Charge(ChargeRequest request, ServerCallContext context)
    {
        var id = Interlocked.Increment(ref _transactions);
        return Task.FromResult(new ChargeReply { Ok = request.AmountCents > 0, TransactionId = $"tx-{id}" });
    }
}
