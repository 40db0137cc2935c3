using System.Net;
using Mesh.AspNetCore.RateLimiting.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.RateLimiting;

/// <summary>The decision shared by gRPC and HTTP: rounding of the retry-after values and the cost of the admitted path.</summary>
public sealed class InboundRateLimitGateTests
{
    [Theory]
    [InlineData(47_655.0, 48, 47_655)]
    [InlineData(0.0001, 1, 1)]
    [InlineData(1_000.0, 1, 1_000)]
    [InlineData(1_000.2, 2, 1_001)]
    [InlineData(60_000.0, 60, 60_000)]
    public void RetryAfterValues_RoundUp(double milliseconds, long seconds, long pushbackMs)
    {
        var retryAfter = TimeSpan.FromMilliseconds(milliseconds);

        Assert.Equal(seconds, InboundRateLimitGate.ToRetryAfterSeconds(retryAfter));
        Assert.Equal(pushbackMs, InboundRateLimitGate.ToPushbackMilliseconds(retryAfter));
    }

    [Fact]
    public void TryAdmit_AdmittedCallerWithServiceIdHeader_AllocatesNothing()
    {
        var services = new ServiceCollection().AddLogging().AddSingleton<TimeProvider>(new FakeTimeProvider());
        services.AddSecureMesh(o =>
        {
            o.ServiceId = "svc";
            o.Resilience.RateLimit.MaxRequests = int.MaxValue;
        });
        using var provider = services.BuildServiceProvider();
        var gate = provider.GetRequiredService<InboundRateLimitGate>();
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Loopback;
        context.Request.Headers["x-mesh-service-id"] = "svc-a";
        for (var i = 0; i < 1_000; i++)
        {
            Assert.True(gate.TryAdmit(context, "grpc", out _));
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            gate.TryAdmit(context, "grpc", out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void TryAdmit_RejectedCaller_AllocatesNothingAndGivesTheTimeLeft()
    {
        var time = new FakeTimeProvider();
        var services = new ServiceCollection().AddLogging().AddSingleton<TimeProvider>(time);
        services.AddSecureMesh(o =>
        {
            o.ServiceId = "svc";
            o.Resilience.RateLimit.MaxRequests = 1;
            o.Resilience.RateLimit.WindowMs = 10_000;
        });
        using var provider = services.BuildServiceProvider();
        var gate = provider.GetRequiredService<InboundRateLimitGate>();
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Loopback;
        context.Request.Headers["x-mesh-service-id"] = "svc-a";
        Assert.True(gate.TryAdmit(context, "grpc", out _));
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(gate.TryAdmit(context, "grpc", out _));

        var before = GC.GetAllocatedBytesForCurrentThread();
        var rejected = 0;
        var retryAfter = TimeSpan.Zero;
        for (var i = 0; i < 10_000; i++)
        {
            rejected += gate.TryAdmit(context, "grpc", out retryAfter) ? 0 : 1;
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(10_000, rejected);
        Assert.Equal(TimeSpan.FromSeconds(6), retryAfter);
    }
}
