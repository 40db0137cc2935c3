using System.Net.Sockets;
using Grpc.Core;
using Mesh.AspNetCore.Discovery.Internal;
using Mesh.AspNetCore.Resilience.Internal;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>The per-call work of safe retries allocates nothing: the budget's deposit and withdrawal, and the retry decision.</summary>
public sealed class RetrySafetyAllocationTests
{
    [Fact]
    public void DepositAndTryWithdraw_ManyCallsAcrossWindows_AllocateNothing()
    {
        var time = new FakeTimeProvider();
        var budget = new RetryBudget("inventory-service", new RetryOptions(), time);
        budget.Deposit(time.GetTimestamp());
        budget.TryWithdraw(time.GetTimestamp());

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            budget.Deposit(time.GetTimestamp());
            budget.TryWithdraw(time.GetTimestamp());
            time.Advance(TimeSpan.FromMilliseconds(7)); // the window slides on
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void IsIdempotentAndIsProven_RepeatedFailures_AllocateNothing()
    {
        var policy = new IdempotencyPolicy(
            new DeclaredIdempotency([new MeshClientRegistration(typeof(PaymentLedgerClient), "payment-service")]),
            ["mesh.tests.ledger.Audit/*"]);
        MeshCallInfo[] calls =
        [
            new FailedCall("/mesh.tests.ledger.Ledger/Charge", new LedgerRequest()),
            new FailedCall("/mesh.tests.ledger.Ledger/GetBalance", new LedgerRequest()),
            new FailedCall("/mesh.tests.ledger.Audit/Record", new LedgerRequest()),
        ];
        var refused = new RpcException(new Status(StatusCode.Unavailable, "Error connecting to subchannel.", new SocketException((int)SocketError.ConnectionRefused)));
        var rejected = new RpcException(new Status(StatusCode.ResourceExhausted, "Rate limit exceeded."), new Metadata { { "x-mesh-rejected", "rate-limit" } });
        var handled = new RpcException(new Status(StatusCode.Unavailable, "failed in the handler"));
        var decisions = calls.Select(policy.IsIdempotent).ToArray(); // first sight of each method: decided and cached

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            foreach (var call in calls)
            {
                policy.IsIdempotent(call);
            }

            UnhandledRequest.IsProven(refused);
            UnhandledRequest.IsProven(rejected);
            UnhandledRequest.IsProven(handled);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal([false, true, true], decisions);
        Assert.Equal((true, true, false), (UnhandledRequest.IsProven(refused), UnhandledRequest.IsProven(rejected), UnhandledRequest.IsProven(handled)));
    }

    private sealed class FailedCall(string method, object request) : MeshCallInfo
    {
        public override string Method => method;

        public override DateTime? Deadline => null;

        public override bool CanRetry => true;

        public override object? Request => request;
    }
}
