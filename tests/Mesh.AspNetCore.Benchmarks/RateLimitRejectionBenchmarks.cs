using System.Globalization;
using System.Net;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Mesh.AspNetCore.Benchmarks.Infrastructure;
using Mesh.AspNetCore.Benchmarks.Protos;
using Mesh.AspNetCore.RateLimiting.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// In-process, per request: what the rate-limited endpoint's decision costs for an admitted gRPC call, a rejected gRPC
/// call (the trailers-only answer) and a rejected HTTP request (429 with its problem-details body), against the
/// interceptor's rejection of round 1 (an <c>RpcException</c> with the rejection's trailers thrown and caught, before
/// grpc-dotnet's own handling of it). The allocations are those of the mesh's code: the server's own per-request objects
/// (context, headers) are reused.
/// </summary>
[MemoryDiagnoser]
public class RateLimitRejectionBenchmarks
{
    private static readonly Marshaller<PingRequest> s_requests = Marshallers.Create(r => r.ToByteArray(), PingRequest.Parser.ParseFrom);
    private static readonly Marshaller<PingReply> s_replies = Marshallers.Create(r => r.ToByteArray(), PingReply.Parser.ParseFrom);
    private static readonly Method<PingRequest, PingReply> s_ping = new(MethodType.Unary, "mesh.benchmarks.Bench", "Ping", s_requests, s_replies);

    private IHost _admittingHost = null!;
    private IHost _rejectingHost = null!;
    private RequestDelegate _admittingGrpc = null!;
    private RequestDelegate _rejectingGrpc = null!;
    private RequestDelegate _rejectingHttp = null!;
    private InboundRateLimitGate _rejectingGate = null!;
    private DefaultHttpContext _grpc = null!;
    private DefaultHttpContext _http = null!;

    [GlobalSetup]
    public void Setup()
    {
        _admittingHost = StartHost(MeshConfiguration.RateLimited(int.MaxValue));
        _rejectingHost = StartHost(MeshConfiguration.RateLimited(1));
        _rejectingGate = _rejectingHost.Services.GetRequiredService<InboundRateLimitGate>();

        var ping = Endpoint("/mesh.benchmarks.Bench/Ping", new GrpcMethodMetadata(typeof(BenchService), s_ping));
        var orders = Endpoint("/orders", RateLimitEndpointMarker.Instance);
        _admittingGrpc = Limited(_admittingHost, ping);
        _rejectingGrpc = Limited(_rejectingHost, ping);
        _rejectingHttp = Limited(_rejectingHost, orders);
        _grpc = Request(ping);
        _grpc.Request.ContentType = "application/grpc";
        _grpc.Request.Body = Stream.Null;
        _ = _grpc.Request.BodyReader.ReadAsync().AsTask().GetAwaiter().GetResult(); // the request has arrived whole
        _http = Request(orders);
        _http.Response.Body = Stream.Null;

        _rejectingGrpc(_grpc).GetAwaiter().GetResult(); // spends the caller's one request of the day
        Grpc();
        if (_grpc.Response.Headers["grpc-status"] != "8")
        {
            throw new InvalidOperationException("The rejecting endpoint should reject.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _admittingHost.Dispose();
        _rejectingHost.Dispose();
    }

    [Benchmark(Baseline = true, Description = "Limited endpoint: admitted gRPC call (to an endpoint that does nothing)")]
    public Task Admitted() => _admittingGrpc(_grpc);

    [Benchmark(Description = "Limited endpoint: rejected gRPC call, trailers-only answer")]
    public Task Grpc()
    {
        _grpc.Response.Headers.Clear();
        return _rejectingGrpc(_grpc);
    }

    [Benchmark(Description = "Limited endpoint: rejected HTTP request, 429 with problem details")]
    public Task Http()
    {
        _http.Response.Headers.Clear();
        return _rejectingHttp(_http);
    }

    [Benchmark(Description = "Round 1's interceptor: rejected gRPC call, RpcException thrown and caught")]
    public StatusCode InterceptorException()
    {
        try
        {
            return _rejectingGate.TryAdmit(_grpc, "grpc", out var retryAfter) ? StatusCode.OK : throw Round1Rejection(retryAfter);
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }

    // What round 1's interceptor threw for a rejected call: the status and the rejection's three trailers.
    private static RpcException Round1Rejection(TimeSpan retryAfter)
    {
        var seconds = InboundRateLimitGate.ToRetryAfterSeconds(retryAfter);
        var trailers = new Metadata
        {
            { "retry-after", seconds.ToString(CultureInfo.InvariantCulture) },
            { "grpc-retry-pushback-ms", InboundRateLimitGate.ToPushbackMilliseconds(retryAfter).ToString(CultureInfo.InvariantCulture) },
            { "x-mesh-rejected", "rate-limit" },
        };
        return new RpcException(new Status(StatusCode.ResourceExhausted, InboundRateLimitGate.RejectionMessage(seconds)), trailers);
    }

    private static RouteEndpoint Endpoint(string path, object metadata) =>
        new(static _ => Task.CompletedTask, RoutePatternFactory.Parse(path), 0, new EndpointMetadataCollection(metadata), path);

    private static RequestDelegate Limited(IHost host, RouteEndpoint endpoint) =>
        RateLimitedEndpoint.Wrap(endpoint, host.Services.GetRequiredService<InboundRateLimitGate>(), host.Services.GetRequiredService<RateLimitRejectionWriter>()).RequestDelegate!;

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
}
