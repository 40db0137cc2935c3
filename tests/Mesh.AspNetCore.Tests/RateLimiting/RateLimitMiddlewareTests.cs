using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.AspNetCore.RateLimiting.Internal;
using Mesh.AspNetCore.Tests.Infrastructure;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.RateLimiting;

/// <summary>
/// Where the decision is taken: after routing and before the endpoint (in a <c>WebApplication</c> by a middleware before
/// the endpoint middleware, elsewhere by the stand-in endpoint routing selects), answering a rejected gRPC call with a
/// trailers-only response and a rejected HTTP request with a 429, before grpc-dotnet's call handler and before parameter
/// binding. Real Kestrel, real clients.
/// </summary>
public sealed class RateLimitMiddlewareTests
{
    private const string SayPath = "/mesh.tests.Echo/Say";

    [Fact]
    public async Task Say_Rejected_TrailersOnlyResponseWithStatusMessageRetryAfterAndRejectedByInItsHeaders()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 1, "WindowMs": 60000 }""");
        using var http = service.Host.CreateHttpClient();
        var admitted = await RawGrpcCall.SendAsync(http, SayPath, new EchoRequest { Text = "hi" });
        service.Time.Advance(TimeSpan.FromMilliseconds(12_345));

        var rejected = await RawGrpcCall.SendAsync(http, SayPath, new EchoRequest { Text = "hi" });

        Assert.Equal("0", admitted.GrpcStatus);
        Assert.Equal(HttpStatusCode.OK, rejected.Response.StatusCode);
        Assert.Equal("application/grpc", rejected.Response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(
            ("8", "Rate limit exceeded. Retry after 48s", "48", "47655", "rate-limit"),
            (rejected.Header("grpc-status"), rejected.Header("grpc-message"), rejected.Header("retry-after"),
                rejected.Header("grpc-retry-pushback-ms"), rejected.Header("x-mesh-rejected")));
        Assert.Empty(rejected.Body);
        Assert.Empty(rejected.Response.TrailingHeaders);
        Assert.Equal(1, service.Calls.Grpc);
    }

    [Fact]
    public async Task Say_RejectedTrailersOnly_GrpcClientSeesResourceExhaustedWithEveryEntry()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 1, "WindowMs": 60000 }""");
        await service.SayAsync();

        var (status, error) = await service.SayWithErrorAsync();

        Assert.Equal(StatusCode.ResourceExhausted, status);
        Assert.Equal("Rate limit exceeded. Retry after 60s", error!.Status.Detail);
        Assert.Equal(
            ("60", "60000", "rate-limit"),
            (error.Trailers.GetValue("retry-after"), error.Trailers.GetValue("grpc-retry-pushback-ms"), error.Trailers.GetValue("x-mesh-rejected")));
    }

    [Fact]
    public async Task AnyCallType_Admitted_CountedOnce()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 100 }""");

        foreach (var callType in GrpcRateLimitTests.CallTypes)
        {
            Assert.Equal(StatusCode.OK, await GrpcRateLimitTests.CallAsync(service.Client, callType));
        }

        var stats = service.Host.Services.GetRequiredService<ISecureMesh>().GetStats().Metrics;
        Assert.Equal((4, 0, 4), (stats.RateLimitAllowed, stats.RateLimitBlocked, service.Calls.Grpc));
    }

    [Theory]
    [InlineData("client-streaming")]
    [InlineData("duplex")]
    public async Task StreamingCall_SpentCallerStillWriting_AnsweredBeforeItEndsItsStream(string callType)
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 1 }""");
        await service.SayAsync();
        var ct = TestContext.Current.CancellationToken;

        // One message written and the request stream left open: the answer must not wait for its end.
        RpcException error;
        if (callType == "client-streaming")
        {
            using var call = service.Client.ClientStream(cancellationToken: ct);
            await WriteUnlessAnsweredAsync(call.RequestStream, ct);
            error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.WaitAsync(TimeSpan.FromSeconds(30), ct));
        }
        else
        {
            using var call = service.Client.Duplex(cancellationToken: ct);
            await WriteUnlessAnsweredAsync(call.RequestStream, ct);
            error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(ct).WaitAsync(TimeSpan.FromSeconds(30), ct));
        }

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal("rate-limit", error.Trailers.GetValue("x-mesh-rejected"));
        Assert.Equal(1, service.Calls.Grpc);
    }

    // The answer may come before the client has written its message: grpc-dotnet then fails the write with the call's
    // status, and the response below carries it with its trailers.
    private static async Task WriteUnlessAnsweredAsync(IClientStreamWriter<EchoRequest> requests, CancellationToken ct)
    {
        try
        {
            await requests.WriteAsync(new EchoRequest { Text = "x" }, ct);
        }
        catch (RpcException)
        {
        }
    }

    [Fact]
    public async Task PostOrder_SpentCallerSendsInvalidJson_429CountedAndTheHandlerNeverRuns()
    {
        await using var service = await StartWithPostOrderAsync();
        using var admitted = await PostOrderAsync(service, """{ "item": "book", "quantity": 1 }""");

        using var rejected = await PostOrderAsync(service, "{ this is not json");

        Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(60), rejected.Headers.RetryAfter?.Delta);
        Assert.Equal("rate-limit", rejected.Headers.GetValues("x-mesh-rejected").Single());
        Assert.Equal("application/problem+json", rejected.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await rejected.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal(
            (429, "Too Many Requests", "Rate limit exceeded. Retry after 60s", 60),
            (problem.RootElement.GetProperty("status").GetInt32(), problem.RootElement.GetProperty("title").GetString(),
                problem.RootElement.GetProperty("detail").GetString(), problem.RootElement.GetProperty("retryAfterSeconds").GetInt32()));
        var stats = service.Host.Services.GetRequiredService<ISecureMesh>().GetStats().Metrics;
        Assert.Equal((1, 1, 1), (stats.RateLimitAllowed, stats.RateLimitBlocked, service.Calls.Http));
    }

    [Fact]
    public async Task PostOrder_SpentCallerWhoseBodyNeverEnds_RejectedWithoutReadingIt()
    {
        await using var service = await StartWithPostOrderAsync();
        using var admitted = await PostOrderAsync(service, """{ "item": "book", "quantity": 1 }""");
        using var endless = new EndlessContent();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/orders/new")
        {
            Content = endless,
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        // Binding would wait for the end of the body, which never comes: only an answer that does not read it arrives.
        using var rejected = await service.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken)
            .WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        // The answer may arrive before the client has sent a byte of the body; either way nothing waited for its end.
        Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
        Assert.Equal(1, service.Calls.Http);
    }

    [Fact]
    public async Task PostOrder_ProblemDetailsServiceRegistered_RejectionWrittenThroughIt()
    {
        await using var service = await StartWithPostOrderAsync(
            b => b.Services.AddProblemDetails(o => o.CustomizeProblemDetails = c => c.ProblemDetails.Extensions["service"] = "echo-service"));
        using var admitted = await PostOrderAsync(service, """{ "item": "book", "quantity": 1 }""");

        using var rejected = await PostOrderAsync(service, "{ this is not json");

        using var problem = JsonDocument.Parse(await rejected.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
        Assert.Equal(
            ("echo-service", "Rate limit exceeded. Retry after 60s", 60),
            (problem.RootElement.GetProperty("service").GetString(), problem.RootElement.GetProperty("detail").GetString(),
                problem.RootElement.GetProperty("retryAfterSeconds").GetInt32()));
    }

    [Fact]
    public async Task WebApplicationWrittenAsInTheDesign_SpentCaller_RejectedBeforeHandlerAndBinding()
    {
        // design.md section 1, as a user writes it: nothing added to the pipeline but the endpoints.
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:ServiceId"] = "order-service",
            ["Mesh:Port"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
            ["Mesh:ListenAddress"] = "127.0.0.1",
            ["Mesh:Resilience:RateLimit:MaxRequests"] = "2",
        });
        builder.Logging.ClearProviders();
        var calls = new HandlerCalls();
        builder.Services.AddSingleton(calls);
        builder.Services.AddGrpc();
        builder.Services.AddSecureMesh();
        await using var app = builder.Build();
        app.MapGrpcService<RecordingEchoService>();
        app.MapPost("/orders", (OrderRequest order) =>
        {
            calls.RecordHttp();
            return order.Item;
        }).RequireMeshRateLimit();
        app.MapMeshStats("/mesh/stats");
        using var http = await StartAsync(app);

        var grpcAdmitted = await RawGrpcCall.SendAsync(http, SayPath, new EchoRequest { Text = "hi" });
        using var httpAdmitted = await http.PostAsync(new Uri("/orders", UriKind.Relative), Json("""{ "item": "book", "quantity": 1 }"""), TestContext.Current.CancellationToken);
        var grpcRejected = await RawGrpcCall.SendAsync(http, SayPath, new EchoRequest { Text = "hi" });
        using var httpRejected = await http.PostAsync(new Uri("/orders", UriKind.Relative), Json("not json"), TestContext.Current.CancellationToken);
        await app.StopAsync(TestContext.Current.CancellationToken);

        Assert.Equal(("0", HttpStatusCode.OK), (grpcAdmitted.GrpcStatus, httpAdmitted.StatusCode));
        Assert.Equal(("8", "rate-limit"), (grpcRejected.Header("grpc-status"), grpcRejected.Header("x-mesh-rejected")));
        Assert.Empty(grpcRejected.Response.TrailingHeaders);
        Assert.Equal(HttpStatusCode.TooManyRequests, httpRejected.StatusCode);
        Assert.Equal((1, 1), (calls.Grpc, calls.Http));
    }

    [Fact]
    public async Task StartupClassRunningEndpointsItself_SpentCaller_RejectedBeforeHandlerAndBinding()
    {
        // A Startup-style pipeline calls UseRouting and UseEndpoints itself: routing still selects the deciding endpoint.
        using var host = Host.CreateDefaultBuilder()
            .ConfigureAppConfiguration(c =>
            {
                c.Sources.Clear();
                c.AddInMemoryCollection(SpentAfterTwo);
            })
            .ConfigureLogging(l => l.ClearProviders())
            .ConfigureWebHostDefaults(web => web
                .UseKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2))
                .ConfigureServices(services =>
                {
                    services.AddSingleton<HandlerCalls>();
                    services.AddGrpc();
                    services.AddSecureMesh();
                })
                .Configure(app =>
                {
                    app.UseRouting();
                    app.UseEndpoints(MapEchoAndOrders);
                }))
            .Build();

        await AssertSecondCallOfEachKindRejectedAsync(host, "");
    }

    [Fact]
    public async Task BranchWithRoutingOfItsOwn_SpentCaller_RejectedBeforeHandlerAndBinding()
    {
        // A branch of the pipeline (app.Map) with its own UseRouting and UseEndpoints routes with a matcher of its own.
        await using var app = LoopbackApp(SpentAfterTwo);
        app.Map("/branch", branch =>
        {
            branch.UseRouting();
            branch.UseEndpoints(MapEchoAndOrders);
        });

        await AssertSecondCallOfEachKindRejectedAsync(app, "/branch");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AppWithCatchAllAndParameterRoutes_AdmittedRequests_EachCountedOnce(bool inABranch)
    {
        // Routes with parameters and catch-alls (the dashboard's, an application's own) put one endpoint in several of
        // routing's nodes; each limited endpoint still decides once per request, before the endpoint middleware or not.
        await using var app = LoopbackApp(new() { ["Mesh:ServiceId"] = "order-service", ["Mesh:Resilience:RateLimit:MaxRequests"] = "100" });
        void Map(IEndpointRouteBuilder endpoints)
        {
            MapEchoAndOrders(endpoints);
            endpoints.MapGet("/orders/{id}", (string id) => id).RequireMeshRateLimit();
            endpoints.MapGet("/files/{**path}", (string path) => path);
            endpoints.MapMeshStats("/mesh/stats");
            endpoints.MapMeshDashboard("/mesh/dashboard");
        }

        var pathBase = "";
        if (inABranch)
        {
            pathBase = "/branch";
            app.Map(pathBase, branch =>
            {
                branch.UseRouting();
                branch.UseEndpoints(Map);
            });
        }
        else
        {
            Map(app);
        }

        using var http = await StartAsync(app);

        var grpc = await RawGrpcCall.SendAsync(http, pathBase + SayPath, new EchoRequest { Text = "hi" });
        using var post = await http.PostAsync(new Uri(pathBase + "/orders", UriKind.Relative), Json("""{ "item": "book", "quantity": 1 }"""), TestContext.Current.CancellationToken);
        using var get = await http.GetAsync(new Uri(pathBase + "/orders/42", UriKind.Relative), TestContext.Current.CancellationToken);
        using var file = await http.GetAsync(new Uri(pathBase + "/files/a/b", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal(("0", HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK), (grpc.GrpcStatus, post.StatusCode, get.StatusCode, file.StatusCode));
        var stats = app.Services.GetRequiredService<ISecureMesh>().GetStats().Metrics;
        Assert.Equal((3, 0), (stats.RateLimitAllowed, stats.RateLimitBlocked));
    }

    [Fact]
    public async Task WebApplication_AdmittedRequest_HandlerSeesTheEndpointRoutingMatched()
    {
        await using var app = LoopbackApp(SpentAfterTwo);
        Endpoint? seen = null;
        app.MapGet("/orders", (HttpContext context) =>
        {
            seen = context.GetEndpoint();
            return "ok";
        }).RequireMeshRateLimit();
        using var http = await StartAsync(app);

        using var response = await http.GetAsync(new Uri("/orders", UriKind.Relative), TestContext.Current.CancellationToken);

        // The endpoint routing matched, not the stand-in it selected in its place.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(seen);
        Assert.Null(RateLimitedEndpoint.Of(seen));
        Assert.Equal("/orders", ((RouteEndpoint)seen).RoutePattern.RawText);
        Assert.NotNull(seen.Metadata.GetMetadata<RateLimitEndpointMarker>());
    }

    private static readonly Dictionary<string, string?> SpentAfterTwo = new()
    {
        ["Mesh:ServiceId"] = "echo-service",
        ["Mesh:Resilience:RateLimit:MaxRequests"] = "2",
    };

    // A WebApplication with the mesh and grpc-dotnet, serving HTTP/2 on a loopback port of its own.
    private static WebApplication LoopbackApp(Dictionary<string, string?> configuration)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(configuration);
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddSingleton<HandlerCalls>();
        builder.Services.AddGrpc();
        builder.Services.AddSecureMesh();
        return builder.Build();
    }

    // Starts the host and returns an HTTP/2 client of the address its server listens on.
    private static async Task<HttpClient> StartAsync(IHost host)
    {
        await host.StartAsync(TestContext.Current.CancellationToken);
        var address = new Uri(host.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First());
        return new HttpClient { BaseAddress = address, DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
    }

    private static void MapEchoAndOrders(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<RecordingEchoService>();
        endpoints.MapPost("/orders", (OrderRequest order, HandlerCalls calls) =>
        {
            calls.RecordHttp();
            return order.Item;
        }).RequireMeshRateLimit();
    }

    // One admitted gRPC call and one admitted POST /orders, then a rejected one of each: the gRPC rejection is the
    // trailers-only answer, and the HTTP one, with a body that does not bind, a 429 rather than a 400.
    private static async Task AssertSecondCallOfEachKindRejectedAsync(IHost host, string pathBase)
    {
        using var http = await StartAsync(host);
        var orders = new Uri(pathBase + "/orders", UriKind.Relative);

        var grpcAdmitted = await RawGrpcCall.SendAsync(http, pathBase + SayPath, new EchoRequest { Text = "hi" });
        using var httpAdmitted = await http.PostAsync(orders, Json("""{ "item": "book", "quantity": 1 }"""), TestContext.Current.CancellationToken);
        var grpcRejected = await RawGrpcCall.SendAsync(http, pathBase + SayPath, new EchoRequest { Text = "hi" });
        using var httpRejected = await http.PostAsync(orders, Json("not json"), TestContext.Current.CancellationToken);
        await host.StopAsync(TestContext.Current.CancellationToken);

        var calls = host.Services.GetRequiredService<HandlerCalls>();
        Assert.Equal(("0", HttpStatusCode.OK), (grpcAdmitted.GrpcStatus, httpAdmitted.StatusCode));
        Assert.Equal(("8", "rate-limit"), (grpcRejected.Header("grpc-status"), grpcRejected.Header("x-mesh-rejected")));
        Assert.Empty(grpcRejected.Response.TrailingHeaders);
        Assert.Equal(HttpStatusCode.TooManyRequests, httpRejected.StatusCode);
        Assert.Equal("rate-limit", httpRejected.Headers.GetValues("x-mesh-rejected").Single());
        Assert.Equal((1, 1), (calls.Grpc, calls.Http));
    }

    [Theory]
    [InlineData("Rate limit exceeded. Retry after 48s", "Rate limit exceeded. Retry after 48s")]
    [InlineData("100% used", "100%25 used")]
    [InlineData("caf\u00e9", "caf%C3%A9")]
    [InlineData("line\nbreak\u007f", "line%0Abreak%7F")]
    public void PercentEncode_GrpcMessage_EncodedAsTheGrpcProtocolRequires(string message, string expected) =>
        Assert.Equal(expected, RateLimitRejectionWriter.PercentEncode(message));

    private static Task<RateLimitedService> StartWithPostOrderAsync(Action<WebApplicationBuilder>? configureServices = null) =>
        RateLimitedService.StartAsync(
            """{ "MaxRequests": 1, "WindowMs": 60000 }""",
            configureServices,
            app => app.MapPost("/orders/new", (OrderRequest order, HandlerCalls calls) =>
            {
                calls.RecordHttp();
                return order.Item;
            }).RequireMeshRateLimit());

    private static Task<HttpResponseMessage> PostOrderAsync(RateLimitedService service, string json) =>
        service.Http.PostAsync(new Uri("/orders/new", UriKind.Relative), Json(json), TestContext.Current.CancellationToken);

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>A JSON request body that sends its first byte and then never ends.</summary>
    private sealed class EndlessContent : HttpContent
    {
        private readonly TaskCompletionSource _never = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public EndlessContent() => Headers.ContentType = new MediaTypeHeaderValue("application/json");

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync("{"u8.ToArray());
            await stream.FlushAsync();
            await _never.Task;
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            _never.TrySetCanceled();
            base.Dispose(disposing);
        }
    }
}

/// <summary>The body of <c>POST /orders</c> in the tests.</summary>
public sealed record OrderRequest(string Item, int Quantity);
