using Grpc.Core;

namespace Mesh.AspNetCore.Tests.RateLimiting;

/// <summary>The three rate-limit use cases of the SecureMesh documentation, at their real limits, over real Kestrel.</summary>
public sealed class RateLimitUseCaseTests
{
    public static TheoryData<string, int, int> UseCases => new()
    {
        // the seed's configuration object, pasted as JSON; its maxRequests; its windowMs
        { """{ "maxRequests": 5000, "windowMs": 60000 }""", 5000, 60_000 },  // 1. API gateway protection
        { """{ "maxRequests": 100, "windowMs": 60000 }""", 100, 60_000 },    // 2. per-service (payment) limit
        { """{ "maxRequests": 1000, "windowMs": 10000 }""", 1000, 10_000 },  // 3. burst protection
    };

    [Theory]
    [MemberData(nameof(UseCases))]
    public async Task UseCase_AtItsLimit_ExactlyMaxRequestsThenResourceExhaustedUntilTheWindowEnds(string rateLimitJson, int maxRequests, int windowMs)
    {
        await using var service = await RateLimitedService.StartAsync(rateLimitJson);
        var caller = RateLimitedService.Caller("client-service");

        var admitted = await service.SayManyAsync(maxRequests, caller);
        var (overLimit, error) = await service.SayWithErrorAsync(caller);
        service.Time.Advance(TimeSpan.FromMilliseconds(windowMs - 1));
        var justBefore = await service.SayAsync(caller);
        service.Time.Advance(TimeSpan.FromMilliseconds(1));
        var nextWindow = await service.SayAsync(caller);

        Assert.Equal(maxRequests, admitted);
        Assert.Equal(maxRequests, service.Calls.Grpc - 1);
        Assert.Equal(StatusCode.ResourceExhausted, overLimit);
        Assert.Equal((windowMs / 1000).ToString(System.Globalization.CultureInfo.InvariantCulture), error!.Trailers.GetValue("retry-after"));
        Assert.Equal(StatusCode.ResourceExhausted, justBefore);
        Assert.Equal(StatusCode.OK, nextWindow);
    }
}
