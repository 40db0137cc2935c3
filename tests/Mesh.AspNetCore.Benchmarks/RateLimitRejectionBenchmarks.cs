using System.Net;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Mesh.AspNetCore.Benchmarks.Infrastructure;
using Mesh.AspNetCore.Benchmarks.Protos;
using Mesh.AspNetCore.RateLimiting.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// In-process, per request: what the rate-limit middleware costs for an admitted gRPC call, a rejected gRPC call (the
/// trailers-only answer) and a rejected HTTP request (429 with its problem-details body), against the interceptor's
/// rejection of round 1 (an <c>RpcException</c> thrown and caught, before grpc-dotnet's own handling of it). The
/// allocations are those of the mesh's code: the server's own per-request objects (context, headers) are reused.
/// </summary>
[MemoryDiagnoser]
public class RateLimitRejectionBenchmarks
{
    private static readonly Marshaller<PingRequest> s_requests = Marshallers.Create(r => r.ToByteArray(), PingRequest.Parser.ParseFrom);
    private static readonly Marshaller<PingReply> s_replies = Marshallers.Create(r => r.ToByteArray(), PingReply.Parser.ParseFrom);
    private static readonly Method<PingRequest, PingReply> s_ping = new(MethodType.Unary, "mesh.benchmarks.Bench", "Ping", s_requests, s_replies);

    private IHost _admittingHost = null!;
    private IHost _rejectingHost = null!;
    private RateLimitMiddleware _admitting = null!;
    private RateLimitMiddleware _rejecting = null!;
    private InboundRateLimitGate _rejectingGate = null!;
    private DefaultHttpContext _grpc = null!;
    private DefaultHttpContext _http = null!;

    [GlobalSetup]
    public void Setup()
    {
        _admittingHost = StartHost(MeshConfiguration.RateLimited(int.MaxValue));
        _rejectingHost = StartHost(MeshConfiguration.RateLimited(1));
        _admitting = Middleware(_admittingHost);
        _rejecting = Middleware(_rejectingHost);
        _rejectingGate = _rejectingHost.Services.GetRequiredService<InboundRateLimitGate>();

        _grpc = Request(new Endpoint(_ => Task.CompletedTask, new EndpointMetadataCollection(new GrpcMethodMetadata(typeof(BenchService), s_ping)), "gRPC - Ping"));
        _grpc.Request.ContentType = "application/grpc";
        _grpc.Request.Body = Stream.Null;
        _ = _grpc.Request.BodyReader.ReadAsync().AsTask().GetAwaiter().GetResult(); // the request has arrived whole
        _http = Request(new Endpoint(_ => Task.CompletedTask, new EndpointMetadataCollection(RateLimitEndpointFilter.Marker.Instance), "HTTP: POST /orders"));
        _http.Response.Body = Stream.Null;

        _rejecting.InvokeAsync(_grpc).GetAwaiter().GetResult(); // spends the caller's one request of the day
        Grpc();
        if (_grpc.Response.Headers["grpc-status"] != "8")
        {
            throw new InvalidOperationException("The rejecting middleware should reject.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _admittingHost.Dispose();
        _rejectingHost.Dispose();
    }

    [Benchmark(Baseline = true, Description = "Middleware: admitted gRPC call (to an endpoint that does nothing)")]
    public Task Admitted()
    {
        _grpc.Features.Set<RateLimitDecidedFeature>(null);
        return _admitting.InvokeAsync(_grpc);
    }

    [Benchmark(Description = "Middleware: rejected gRPC call, trailers-only answer")]
    public Task Grpc()
    {
        _grpc.Response.Headers.Clear();
        return _rejecting.InvokeAsync(_grpc);
    }

    [Benchmark(Description = "Middleware: rejected HTTP request, 429 with problem details")]
    public Task Http()
    {
        _http.Response.Headers.Clear();
        return _rejecting.InvokeAsync(_http);
    }

    [Benchmark(Description = "Round 1's interceptor: rejected gRPC call, RpcException thrown and caught")]
    public StatusCode InterceptorException()
    {
        var interceptor = new RateLimitInterceptor(_rejectingGate);
        try
        {
            interceptor.UnaryServerHandler<PingRequest, PingReply>(null!, new BenchServerCallContext(_grpc), static (_, _) => Task.FromResult(BenchService.Reply));
            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }

    private static RateLimitMiddleware Middleware(IHost host) => new(
        static _ => Task.CompletedTask,
        host.Services.GetRequiredService<InboundRateLimitGate>(),
        host.Services.GetRequiredService<RateLimitRejectionWriter>());

    private static IHost StartHost(Dictionary<string, string?> configuration)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(configuration);
        builder.Services.AddSecureMesh();
        var host = builder.Build();
        host.Start();
        return host;
    }

    private static DefaultHttpContext Request(Endpoint endpoint)
    {
        var context = new DefaultHttpContext();
        context.Request.Protocol = "HTTP/2";
        context.Request.Method = "POST";
        context.Connection.RemoteIpAddress = IPAddress.Loopback;
        context.SetEndpoint(endpoint);
        return context;
    }

    /// <summary>The minimal server call context the interceptor reads: the method and the HTTP context.</summary>
    private sealed class BenchServerCallContext(HttpContext httpContext) : ServerCallContext
    {
        protected override string MethodCore => "/mesh.benchmarks.Bench/Ping";

        protected override string HostCore => "127.0.0.1";

        protected override string PeerCore => "ipv4:127.0.0.1";

        protected override DateTime DeadlineCore => DateTime.MaxValue;

        protected override Metadata RequestHeadersCore => [];

        protected override CancellationToken CancellationTokenCore => CancellationToken.None;

        protected override Metadata ResponseTrailersCore => [];

        protected override Status StatusCore { get; set; }

        protected override WriteOptions? WriteOptionsCore { get; set; }

        protected override AuthContext AuthContextCore => new(null, []);

        protected override IDictionary<object, object> UserStateCore { get; } = new Dictionary<object, object> { ["__HttpContext"] = httpContext };

        protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) => throw new NotSupportedException();

        protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
    }
}
