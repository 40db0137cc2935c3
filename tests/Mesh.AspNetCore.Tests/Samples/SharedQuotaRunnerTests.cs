using SharedQuota;

namespace Mesh.AspNetCore.Tests.Samples;

/// <summary>The shared-quota sample: two replicas of the payment service on one embedded Garnet store.</summary>
public sealed class SharedQuotaRunnerTests
{
    [Fact]
    public async Task RunAsync_TwoReplicasOnOneStore_AdmitMaxRequestsInAllWhereMemoryAdmitsItOnEach()
    {
        using var output = new StringWriter();

        var result = await SharedQuotaRunner.RunAsync(output, TestContext.Current.CancellationToken);

        Assert.True(result.QuotaShared, output.ToString());
        Assert.Equal(SharedQuotaRunner.MaxRequests, result.SharedAdmitted);
        Assert.Equal(2 * SharedQuotaRunner.MaxRequests, result.MemoryAdmitted);
    }
}
