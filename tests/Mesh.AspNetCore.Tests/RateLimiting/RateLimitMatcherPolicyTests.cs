using Mesh.AspNetCore.RateLimiting.Internal;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.RateLimiting;

/// <summary>How routing's matcher gets the deciding stand-ins: one per limited endpoint, never a stand-in of a stand-in.</summary>
public sealed class RateLimitMatcherPolicyTests
{
    [Fact]
    public async Task GetEdges_LimitedEndpoint_OneStandInThatStaysTheSameAndIsNeverWrappedAgain()
    {
        var builder = WebApplication.CreateBuilder();
        builder.Services.AddSecureMesh();
        await using var app = builder.Build();
        var policy = app.Services.GetServices<MatcherPolicy>().OfType<RateLimitMatcherPolicy>().Single();
        var limited = Endpoint("/orders", RateLimitEndpointMarker.Instance);
        var other = Endpoint("/health");

        var standIn = Assert.Single(policy.GetEdges([limited, other])).Endpoints[0];
        var rebuilt = Assert.Single(policy.GetEdges([limited, other])).Endpoints;
        var again = Assert.Single(policy.GetEdges([standIn, other])).Endpoints;

        Assert.NotSame(limited, standIn);
        Assert.Same(limited, RateLimitedEndpoint.Of(standIn)?.Original);
        Assert.Equal((limited.DisplayName, limited.Order), (standIn.DisplayName, ((RouteEndpoint)standIn).Order));
        Assert.Same(limited.Metadata, standIn.Metadata);
        Assert.Equal([standIn, other], rebuilt);
        Assert.Equal([standIn, other], again);
        Assert.False(policy.AppliesToEndpoints([standIn, other]));
    }

    private static RouteEndpoint Endpoint(string path, params object[] metadata) =>
        new(static _ => Task.CompletedTask, RoutePatternFactory.Parse(path), 0, new EndpointMetadataCollection(metadata), "HTTP: " + path);
}
