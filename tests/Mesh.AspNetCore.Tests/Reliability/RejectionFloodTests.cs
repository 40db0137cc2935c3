using System.Net;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using Grpc.Core;
using Mesh.AspNetCore.Tests.Infrastructure;
using Mesh.AspNetCore.Tests.Protos;
using Mesh.AspNetCore.Tests.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Reliability;

/// <summary>
/// A flood of rejected requests, gRPC and HTTP, over Kestrel, while every log category is captured at Information and
/// every exception thrown in the process is counted: a rejection writes no log line and throws nothing.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public sealed class RejectionFloodTests
{
    private const int Requests = 400;
    private const string HostingCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    [Fact]
    public async Task Flood_RejectedUnaryServerStreamingAndHttpCalls_NoLogLineAtInformationFromAnyCategory()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 1, "WindowMs": 60000 }""");
        Assert.Equal(StatusCode.OK, await service.SayAsync());
        var before = service.Host.Logs.Entries.Count;

        // A real gRPC client (grpc-dotnet), unary and server-streaming calls 32 at once, and HTTP requests to the marked endpoint.
        var statuses = await Task.WhenAll(Enumerable.Range(0, Requests / 2).Select(i =>
            GrpcRateLimitTests.CallAsync(service.Client, i % 2 == 0 ? "unary" : "server-streaming")));

        var httpStatuses = await Task.WhenAll(Enumerable.Range(0, Requests / 2).Select(async _ =>
        {
            using var response = await service.GetOrdersAsync();
            return response.StatusCode;
        }));

        Assert.All(statuses, s => Assert.Equal(StatusCode.ResourceExhausted, s));
        Assert.All(httpStatuses, s => Assert.Equal(HttpStatusCode.TooManyRequests, s));
        var lines = service.Host.Logs.Entries.Skip(before).ToList();

        // ASP.NET Core's hosting writes "Request starting" and "Request finished" (events 1 and 2) for every request it
        // serves, admitted or not (the templates' "Microsoft.AspNetCore": "Warning" turns them off); nothing else may.
        var others = lines.Where(e => !(e.Category == HostingCategory && e.EventId.Id is 1 or 2)).ToList();
        Assert.True(others.Count == 0, string.Join(Environment.NewLine, others.Take(5).Select(e => $"{e.Level} {e.Category}: {e.Message}")));
        Assert.Equal(2 * Requests, lines.Count);
        Assert.Equal((1, 0), (service.Calls.Grpc, service.Calls.Http));
        Assert.Equal(Requests, service.Host.Services.GetRequiredService<ISecureMesh>().GetStats().Metrics.RateLimitBlocked);
    }

    [Fact]
    public async Task Flood_RejectedClientStreamingAndDuplexCalls_NoLogLineAtInformationFromAnyCategory()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 1, "WindowMs": 60000 }""");
        Assert.Equal(StatusCode.OK, await service.SayAsync());
        var before = service.Host.Logs.Entries.Count;

        // The client streams a message and may still be writing when its answer comes: the server neither waits for the
        // end of the request nor lets Kestrel log that the request was not read.
        var statuses = await Task.WhenAll(Enumerable.Range(0, Requests / 2).Select(i =>
            GrpcRateLimitTests.CallAsync(service.Client, i % 2 == 0 ? "client-streaming" : "duplex")));

        Assert.All(statuses, s => Assert.Equal(StatusCode.ResourceExhausted, s));
        var others = service.Host.Logs.Entries.Skip(before).Where(e => !(e.Category == HostingCategory && e.EventId.Id is 1 or 2)).ToList();
        Assert.True(others.Count == 0, string.Join(Environment.NewLine, others.Take(5).Select(e => $"{e.Level} {e.Category}: {e.Message}")));
        Assert.Equal(0, service.Calls.Grpc - 1);
        Assert.Equal(Requests / 2, service.Host.Services.GetRequiredService<ISecureMesh>().GetStats().Metrics.RateLimitBlocked);
    }

    [Fact]
    public async Task Flood_RejectedGrpcCallsAndHttpRequests_NoExceptionThrownAnywhere()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 1, "WindowMs": 60000 }""");
        using var http = service.Host.CreateHttpClient();
        Assert.Equal("0", (await RawGrpcCall.SendAsync(http, "/mesh.tests.Echo/Say", new EchoRequest { Text = "hi" })).GrpcStatus);
        var thrown = new List<Exception>();
        void OnThrown(object? sender, FirstChanceExceptionEventArgs e)
        {
            // The server under test makes no outbound connection: a refused connect is a client of another test (a
            // channel reconnecting to a server that test stopped), not this server's work.
            if (e.Exception is SocketException { SocketErrorCode: SocketError.ConnectionRefused }
                || e.Exception is HttpRequestException { InnerException: SocketException { SocketErrorCode: SocketError.ConnectionRefused } })
            {
                return;
            }

            lock (thrown)
            {
                thrown.Add(e.Exception);
            }
        }

        // Raw HTTP/2 frames for gRPC: no client throws for an error status, so any exception would be the server's.
        AppDomain.CurrentDomain.FirstChanceException += OnThrown;
        string?[] grpc;
        HttpStatusCode[] httpStatuses;
        try
        {
            grpc = await Task.WhenAll(Enumerable.Range(0, Requests / 2).Select(async _ =>
                (await RawGrpcCall.SendAsync(http, "/mesh.tests.Echo/Say", new EchoRequest { Text = "hi" })).Header("grpc-status")));
            httpStatuses = await Task.WhenAll(Enumerable.Range(0, Requests / 2).Select(async _ =>
            {
                using var response = await service.GetOrdersAsync();
                return response.StatusCode;
            }));
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= OnThrown;
        }

        Assert.All(grpc, s => Assert.Equal("8", s));
        Assert.All(httpStatuses, s => Assert.Equal(HttpStatusCode.TooManyRequests, s));
        Assert.True(thrown.Count == 0, string.Join(Environment.NewLine, thrown.Take(5).Select(e => $"{e.GetType().Name}: {e.Message}")));
        Assert.Equal((1, 0), (service.Calls.Grpc, service.Calls.Http));
    }
}
