using Mesh.AspNetCore.Discovery.Internal;
using Mesh.AspNetCore.Resilience.Internal;
using Mesh.AspNetCore.Tests.Protos;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>Reading <c>option idempotency_level</c> from the generated code of ledger.proto.</summary>
public sealed class DeclaredIdempotencyTests
{
    [Theory]
    [InlineData("/mesh.tests.ledger.Ledger/GetBalance", true)]
    [InlineData("/mesh.tests.ledger.Ledger/SetLimit", true)]
    [InlineData("/mesh.tests.ledger.Ledger/Charge", false)]
    [InlineData("/mesh.tests.ledger.Ledger/Unknown", false)]
    [InlineData("/mesh.tests.ledger.Audit/Record", false)]
    public void IsDeclaredIdempotent_RegisteredClientDerivedFromTheGeneratedOne_ReadsTheProtoOption(string method, bool expected)
    {
        var declared = new DeclaredIdempotency([new MeshClientRegistration(typeof(PaymentLedgerClient), "payment-service")]);

        Assert.Equal(expected, declared.IsDeclaredIdempotent(method, request: null));
    }

    [Theory]
    [InlineData("/mesh.samples.payment.Payment/Charge", false)]
    [InlineData("/mesh.samples.payment.Payment/GetCharge", true)]
    [InlineData("/mesh.samples.inventory.Inventory/Reserve", true)]
    public void IsDeclaredIdempotent_SampleContracts_DeclareWhatIsTrue(string method, bool expected)
    {
        var declared = new DeclaredIdempotency(
        [
            new MeshClientRegistration(typeof(Mesh.Samples.Payment.PaymentClient), "payment-service"),
            new MeshClientRegistration(typeof(Mesh.Samples.Inventory.InventoryClient), "inventory-service"),
        ]);

        Assert.Equal(expected, declared.IsDeclaredIdempotent(method, request: null));
    }

    [Theory]
    [InlineData("/mesh.tests.ledger.Ledger/SetLimit", true)]
    [InlineData("/mesh.tests.ledger.Ledger/Charge", false)]
    [InlineData("/other.Service/SetLimit", false)]
    public void IsDeclaredIdempotent_ClientNotRegistered_ReadsTheRequestMessagesFile(string method, bool expected)
    {
        var declared = new DeclaredIdempotency([]);

        Assert.Equal(expected, declared.IsDeclaredIdempotent(method, new LedgerRequest()));
        Assert.False(declared.IsDeclaredIdempotent(method, request: null));
    }

    [Fact]
    public void IsDeclaredIdempotent_SameMethodAgain_ReadsTheDescriptorsOnlyTheFirstTime()
    {
        var declared = new DeclaredIdempotency([]);
        var request = new LedgerRequest();
        Assert.True(declared.IsDeclaredIdempotent("/mesh.tests.ledger.Ledger/SetLimit", request));

        // Searching the request's file for the method allocates (its service name is cut from the method name); the
        // answer kept from the first call does not.
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1_000; i++)
        {
            declared.IsDeclaredIdempotent("/mesh.tests.ledger.Ledger/SetLimit", request);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
