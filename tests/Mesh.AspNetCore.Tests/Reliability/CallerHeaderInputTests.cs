using Grpc.Core;
using Mesh.AspNetCore.RateLimiting.Internal;
using Mesh.AspNetCore.Tests.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.Reliability;

/// <summary>
/// Bad and hostile <c>x-mesh-service-id</c> headers at the server: each gets the behaviour the README documents
/// ("Malformed x-mesh-service-id": counted against the remote address), nothing escapes as an error, and floods of
/// distinct ids leave no memory behind once their callers go idle.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public sealed class CallerHeaderInputTests
{
    public static TheoryData<string, string[]> BadHeaders => new()
    {
        // name, the header's values (none: no header at all)
        { "missing", [] },
        { "empty", [string.Empty] },
        { "8 KB long", [new string('s', 8 * 1024)] },
        { "control character U+0001", ["svc\u0001a"] },
        { "control character U+001F", ["\u001fsvc"] },
        { "delete character U+007F", ["svc\u007f"] },
        { "repeated", ["svc-a", "svc-b"] },
    };

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public async Task Say_BadServiceIdHeader_CountedAgainstTheRemoteAddressAndNoErrorEscapes(string name, string[] values)
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 2 }""");
        var bad = new Metadata();
        foreach (var value in values)
        {
            bad.Add(RateLimitedService.ServiceIdHeader, value);
        }

        var (first, firstError) = await service.SayWithErrorAsync(bad);
        var (second, secondError) = await service.SayWithErrorAsync(bad);
        var sameAddressWithoutHeader = await service.SayAsync();
        var wellFormed = await service.SayAsync(RateLimitedService.Caller("svc-a"));

        Assert.True(first == StatusCode.OK, $"{name}: {firstError}");
        Assert.True(second == StatusCode.OK, $"{name}: {secondError}");
        Assert.True(sameAddressWithoutHeader == StatusCode.ResourceExhausted, $"{name}: the address's quota was not the one used ({sameAddressWithoutHeader})");
        Assert.Equal(StatusCode.OK, wellFormed);
        Assert.Equal(3, service.Calls.Grpc);
        Assert.DoesNotContain(service.Host.Logs.Entries, e => e.Level >= LogLevel.Error);
    }

    [Fact]
    public async Task Say_HeaderLargerThanKestrelAccepts_RefusedBeforeTheMeshAndTheServiceKeepsServing()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 2 }""");

        var (huge, error) = await service.SayWithErrorAsync(RateLimitedService.Caller(new string('s', 64 * 1024)));
        var next = await service.SayAsync(RateLimitedService.Caller("svc-a"));

        Assert.NotEqual(StatusCode.OK, huge);
        Assert.NotNull(error);
        Assert.Equal(StatusCode.OK, next);
        Assert.Equal(1, service.Calls.Grpc);
        Assert.DoesNotContain(service.Host.Logs.Entries, e => e.Level >= LogLevel.Error);
    }

    [Fact]
    public async Task Say_ThousandsOfDistinctIdsOverTheWire_EachItsOwnCallerAndAllPartitionsDroppedOnceIdle()
    {
        const int Ids = 3_000;
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 1, "WindowMs": 60000 }""");
        var limiter = service.Host.Services.GetRequiredService<MeshRateLimiter>();
        var ids = 0;

        await Parallel.ForEachAsync(
            Enumerable.Range(0, Ids),
            new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = TestContext.Current.CancellationToken },
            async (i, _) =>
            {
                if (await service.SayAsync(RateLimitedService.Caller("caller-" + i)) == StatusCode.OK)
                {
                    Interlocked.Increment(ref ids);
                }
            });
        var live = limiter.PartitionCount;
        service.Time.Advance(TimeSpan.FromMilliseconds(60_000 + RateLimitConstants.SweepIntervalMs));

        Assert.Equal((Ids, Ids), (ids, live));
        Assert.Equal(0, limiter.PartitionCount);
        Assert.DoesNotContain(service.Host.Logs.Entries, e => e.Level >= LogLevel.Error);
    }

    [Fact]
    public void TryAdmit_100000DistinctIdsThenIdle_MemoryReturnsNearItsBaseline()
    {
        const int Ids = 100_000;
        var time = new FakeTimeProvider();
        var services = new ServiceCollection().AddLogging().AddSingleton<TimeProvider>(time);
        services.AddSecureMesh(o =>
        {
            o.ServiceId = "inventory-service";
            o.Resilience.RateLimit.MaxRequests = 10;
            o.Resilience.RateLimit.WindowMs = 60_000;
        });
        using var provider = services.BuildServiceProvider();
        var gate = provider.GetRequiredService<InboundRateLimitGate>();
        var limiter = provider.GetRequiredService<MeshRateLimiter>();
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = System.Net.IPAddress.Loopback;
        Assert.True(gate.TryAdmit(context, RateLimitConstants.GrpcTransport, out _)); // warm up: the first caller's costs are not the flood's
        time.Advance(TimeSpan.FromMilliseconds(60_000 + RateLimitConstants.SweepIntervalMs));

        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        var admitted = 0;
        for (var i = 0; i < Ids; i++)
        {
            context.Request.Headers[RateLimitConstants.ServiceIdHeader] = "caller-" + i;
            if (gate.TryAdmit(context, RateLimitConstants.GrpcTransport, out _))
            {
                admitted++;
            }
        }

        context.Request.Headers.Remove(RateLimitConstants.ServiceIdHeader);
        var live = limiter.PartitionCount;
        var withCallers = GC.GetTotalMemory(forceFullCollection: true);
        time.Advance(TimeSpan.FromMilliseconds(60_000 + RateLimitConstants.SweepIntervalMs));
        var idle = GC.GetTotalMemory(forceFullCollection: true);

        var grown = withCallers - baseline;
        var left = idle - baseline;
        TestContext.Current.TestOutputHelper?.WriteLine($"baseline {baseline}, with callers +{grown}, idle +{left}");
        Assert.Equal((Ids, Ids), (admitted, live));
        Assert.Equal(0, limiter.PartitionCount);
        Assert.True(grown > 5_000_000, $"100,000 live callers measured as only {grown} bytes: the measurement cannot see them");
        Assert.True(left < 256 * 1024, $"{left} of {grown} bytes still held once every caller was idle");
    }
}
