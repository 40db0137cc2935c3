using System.Net;
using System.Text.Json;
using Grpc.Core;
using Mesh.AspNetCore.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.RateLimiting;

/// <summary>The inbound rate limit on HTTP endpoints marked with <c>RequireMeshRateLimit()</c>, over real Kestrel.</summary>
public sealed class HttpRateLimitTests
{
    [Fact]
    public async Task RequireMeshRateLimit_OverLimit_Returns429WithRetryAfterAndProblemDetails()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 1, "WindowMs": 60000 }""");
        using var first = await service.GetOrdersAsync("svc-a");
        service.Time.Advance(TimeSpan.FromMilliseconds(12_345));

        using var rejected = await service.GetOrdersAsync("svc-a");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(48), rejected.Headers.RetryAfter?.Delta);
        Assert.Equal("application/problem+json", rejected.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await rejected.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal(429, problem.RootElement.GetProperty("status").GetInt32());
        Assert.Equal("Rate limit exceeded. Retry after 48s", problem.RootElement.GetProperty("detail").GetString());
        Assert.Equal(48, problem.RootElement.GetProperty("retryAfterSeconds").GetInt32());
        Assert.Equal(1, service.Calls.Http);
    }

    [Fact]
    public async Task RequireMeshRateLimit_ProblemDetailsServiceRegistered_ItsCustomizationApplies()
    {
        await using var service = await RateLimitedService.StartAsync(
            """{ "MaxRequests": 1 }""",
            b => b.Services.AddProblemDetails(o => o.CustomizeProblemDetails = c => c.ProblemDetails.Extensions["service"] = "echo-service"));
        using var first = await service.GetOrdersAsync();

        using var rejected = await service.GetOrdersAsync();

        using var problem = JsonDocument.Parse(await rejected.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("echo-service", problem.RootElement.GetProperty("service").GetString());
        Assert.Equal("Rate limit exceeded. Retry after 60s", problem.RootElement.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task RequireMeshRateLimit_WindowEnds_AdmittedAgain()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 1, "WindowMs": 10000 }""");
        using var first = await service.GetOrdersAsync();
        using var rejected = await service.GetOrdersAsync();
        service.Time.Advance(TimeSpan.FromSeconds(10));

        using var again = await service.GetOrdersAsync();

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.OK), (first.StatusCode, rejected.StatusCode, again.StatusCode));
        Assert.Equal(2, service.Calls.Http);
    }

    [Fact]
    public async Task GrpcAndHttp_SameCaller_ShareOneQuota()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 3 }""");
        var caller = RateLimitedService.Caller("svc-a");

        var grpc1 = await service.SayAsync(caller);
        using var http1 = await service.GetOrdersAsync("svc-a");
        var grpc2 = await service.SayAsync(caller);
        using var http2 = await service.GetOrdersAsync("svc-a");
        var grpc3 = await service.SayAsync(caller);
        using var otherCaller = await service.GetOrdersAsync("svc-b");

        Assert.Equal((StatusCode.OK, StatusCode.OK, StatusCode.ResourceExhausted), (grpc1, grpc2, grpc3));
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.OK), (http1.StatusCode, http2.StatusCode, otherCaller.StatusCode));
    }

    [Fact]
    public async Task RequireMeshRateLimit_OnGroup_LimitsEveryEndpointAndCountsOnceWhenAlsoOnTheEndpoint()
    {
        await using var service = await RateLimitedService.StartAsync(
            """{ "MaxRequests": 3 }""",
            configureApp: app =>
            {
                var api = app.MapGroup("/api").RequireMeshRateLimit();
                api.MapGet("/a", () => "a");
                api.MapGet("/b", () => "b").RequireMeshRateLimit();
                app.MapGet("/free", () => "free");
            });

        var statuses = new List<HttpStatusCode>();
        foreach (var path in new[] { "/api/b", "/api/b", "/api/a", "/api/a", "/api/b" })
        {
            using var response = await service.Http.GetAsync(new Uri(path, UriKind.Relative), TestContext.Current.CancellationToken);
            statuses.Add(response.StatusCode);
        }

        using var free = await service.Http.GetAsync(new Uri("/free", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal(HttpStatusCode.OK, free.StatusCode);
    }

    [Fact]
    public async Task RequireMeshRateLimit_WithoutAddSecureMesh_ThrowsNamingAddSecureMesh()
    {
        var app = MeshTestHost.Build(null, b => b.Services.AddRouting(), listen: false);
        await using var _ = app;
        app.MapGet("/orders", () => "ok").RequireMeshRateLimit();

        var error = Assert.Throws<InvalidOperationException>(
            () => ((IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints).ToList());

        Assert.Contains("AddSecureMesh", error.Message, StringComparison.Ordinal);
    }
}
