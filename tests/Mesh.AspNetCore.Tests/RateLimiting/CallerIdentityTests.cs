using System.Net;
using System.Security.Claims;
using Mesh.AspNetCore.RateLimiting.Internal;
using Microsoft.AspNetCore.Http;

namespace Mesh.AspNetCore.Tests.RateLimiting;

/// <summary>Who a request is counted as: identity, else a well-formed x-mesh-service-id, else the remote address.</summary>
public sealed class CallerIdentityTests
{
    [Fact]
    public void Resolve_AuthenticatedUser_BeatsServiceIdHeader()
    {
        var context = Request(serviceId: "svc-a", user: "alice");

        Assert.Equal("user:alice", CallerIdentity.Resolve(context, RateLimitPartition.Caller).ToString());
    }

    [Fact]
    public void Resolve_AuthenticatedWithoutName_FallsBackToServiceId()
    {
        var context = Request(serviceId: "svc-a");
        context.User = new ClaimsPrincipal(new ClaimsIdentity([], "Test"));

        Assert.Equal("service:svc-a", CallerIdentity.Resolve(context, RateLimitPartition.Caller).ToString());
    }

    [Fact]
    public void Resolve_AnonymousWithServiceId_IsTheService()
    {
        Assert.Equal("service:svc-a", CallerIdentity.Resolve(Request(serviceId: "svc-a"), RateLimitPartition.Caller).ToString());
    }

    [Fact]
    public void Resolve_NoHeader_IsTheRemoteAddress()
    {
        Assert.Equal("ip:10.1.2.3", CallerIdentity.Resolve(Request(), RateLimitPartition.Caller).ToString());
    }

    [Fact]
    public void Resolve_PartitionByGlobal_IsOnePartitionForEveryone()
    {
        var alice = CallerIdentity.Resolve(Request(serviceId: "svc-a", user: "alice"), RateLimitPartition.Global);
        var nobody = CallerIdentity.Resolve(Request(), RateLimitPartition.Global);

        Assert.Equal(alice, nobody);
    }

    [Fact]
    public void Resolve_ServiceIdsSpeltWithOtherCase_AreOneCaller()
    {
        var lower = CallerIdentity.Resolve(Request(serviceId: "order-service"), RateLimitPartition.Caller);
        var mixed = CallerIdentity.Resolve(Request(serviceId: "Order-Service"), RateLimitPartition.Caller);

        Assert.Equal(lower, mixed);
        Assert.Equal(lower.GetHashCode(), mixed.GetHashCode());
        Assert.Equal("service:order-service", mixed.ToStoreName());
    }

    [Fact]
    public void Resolve_UserAndServiceOfTheSameName_AreDifferentCallers()
    {
        var user = CallerIdentity.Resolve(Request(user: "a"), RateLimitPartition.Caller);
        var service = CallerIdentity.Resolve(Request(serviceId: "a"), RateLimitPartition.Caller);

        Assert.NotEqual(user, service);
    }

    public static TheoryData<string> BadServiceIds =>
    [
        "",
        "   ",
        new string('x', 257),
        "svc\u0001",
        "svc\u007f",
        "svc\nother",
        "svc\tother",
    ];

    [Theory]
    [MemberData(nameof(BadServiceIds))]
    public void Resolve_BadServiceId_TreatedAsAbsent(string serviceId)
    {
        Assert.Equal("ip:10.1.2.3", CallerIdentity.Resolve(Request(serviceId: serviceId), RateLimitPartition.Caller).ToString());
    }

    [Fact]
    public void Resolve_RepeatedServiceIdHeader_TreatedAsAbsent()
    {
        var context = Request();
        context.Request.Headers["x-mesh-service-id"] = new Microsoft.Extensions.Primitives.StringValues(["svc-a", "svc-b"]);

        Assert.Equal("ip:10.1.2.3", CallerIdentity.Resolve(context, RateLimitPartition.Caller).ToString());
    }

    [Fact]
    public void Resolve_ServiceIdOf256Characters_Accepted()
    {
        var id = new string('x', 256);

        Assert.Equal("service:" + id, CallerIdentity.Resolve(Request(serviceId: id), RateLimitPartition.Caller).ToString());
    }

    private static DefaultHttpContext Request(string? serviceId = null, string? user = null)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse("10.1.2.3");
        if (serviceId is not null)
        {
            context.Request.Headers["x-mesh-service-id"] = serviceId;
        }

        if (user is not null)
        {
            context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, user)], "Test"));
        }

        return context;
    }
}
