using Grpc.Core;
using Mesh.AspNetCore.Tests.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Reliability;

/// <summary>
/// A caller that sends a new <c>x-mesh-service-id</c> with every call, to get a fresh quota each time. Over Kestrel,
/// concurrently.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public sealed class SpoofingTests
{
    private const int Calls = 100;

    [Fact]
    public async Task Say_PartitionByGlobal_RotatingServiceIdsCannotExceedTheLimit()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 10, "WindowMs": 60000, "PartitionBy": "Global" }""");

        var admitted = await RotatingAsync(service, i => RateLimitedService.Caller("spoofed-" + i));

        Assert.Equal((10, 10), (admitted, service.Calls.Grpc));
    }

    [Fact]
    public async Task Say_AuthenticatedCallerRotatingServiceIds_KeepsItsOneQuota()
    {
        await using var service = await RateLimitedService.StartAsync(
            """{ "MaxRequests": 10, "WindowMs": 60000 }""",
            b => b.Services.AddAuthentication(TestAuthenticationHandler.SchemeName)
                .AddScheme<AuthenticationSchemeOptions, TestAuthenticationHandler>(TestAuthenticationHandler.SchemeName, null));

        var mallory = await RotatingAsync(service, i => new Metadata
        {
            { TestAuthenticationHandler.UserHeader, "mallory" },
            { RateLimitedService.ServiceIdHeader, "spoofed-" + i },
        });
        var alice = await RotatingAsync(service, i => new Metadata
        {
            { TestAuthenticationHandler.UserHeader, "alice" },
            { RateLimitedService.ServiceIdHeader, "spoofed-" + i },
        });

        Assert.Equal((10, 10, 20), (mallory, alice, service.Calls.Grpc));
    }

    [Fact]
    public async Task Say_PerCallerUnauthenticated_EachRotatedServiceIdIsAnotherCaller()
    {
        // Documented limit ("Malformed x-mesh-service-id"): the header is a claim, not an identity. Authenticate
        // callers, or limit by Global, where that matters.
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 1, "WindowMs": 60000 }""");

        var admitted = await RotatingAsync(service, i => RateLimitedService.Caller("spoofed-" + i));

        Assert.Equal((Calls, Calls), (admitted, service.Calls.Grpc));
    }

    private static async Task<int> RotatingAsync(RateLimitedService service, Func<int, Metadata> headers)
    {
        var admitted = 0;
        await Parallel.ForEachAsync(
            Enumerable.Range(0, Calls),
            new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = TestContext.Current.CancellationToken },
            async (i, _) =>
            {
                var status = await service.SayAsync(headers(i));
                Assert.True(status is StatusCode.OK or StatusCode.ResourceExhausted, $"call {i} ended with {status}");
                if (status == StatusCode.OK)
                {
                    Interlocked.Increment(ref admitted);
                }
            });
        return admitted;
    }
}
