using Grpc.Core;
using Grpc.Net.Client;
using Mesh.AspNetCore.Tests.Infrastructure;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.RateLimiting;

/// <summary>
/// A real service on Kestrel with the mesh, the recording Echo gRPC service and a rate-limited HTTP endpoint
/// <c>GET /orders</c>, driven by a <see cref="FakeTimeProvider"/>.
/// </summary>
public sealed class RateLimitedService : IAsyncDisposable
{
    public const string ServiceIdHeader = "x-mesh-service-id";

    private RateLimitedService(MeshTestHost host, FakeTimeProvider time, HandlerCalls calls)
    {
        Host = host;
        Time = time;
        Calls = calls;
        Channel = host.CreateChannel();
        Client = new Echo.EchoClient(Channel);
        Http = host.CreateHttpClient();
    }

    public MeshTestHost Host { get; }

    public FakeTimeProvider Time { get; }

    public HandlerCalls Calls { get; }

    public GrpcChannel Channel { get; }

    public Echo.EchoClient Client { get; }

    public HttpClient Http { get; }

    /// <summary>Starts the service with <paramref name="rateLimitJson"/> as <c>Mesh:Resilience:RateLimit</c>.</summary>
    public static Task<RateLimitedService> StartAsync(
        string rateLimitJson,
        Action<WebApplicationBuilder>? configureServices = null,
        Action<WebApplication>? configureApp = null) =>
        StartWithJsonAsync(
            $$"""{ "Mesh": { "ServiceId": "echo-service", "Resilience": { "RateLimit": {{rateLimitJson}} } } }""",
            configureServices,
            configureApp);

    /// <summary>Starts the service with the whole configuration document given (or none, when the caller adds its own source).</summary>
    public static async Task<RateLimitedService> StartWithJsonAsync(
        string? json,
        Action<WebApplicationBuilder>? configureServices = null,
        Action<WebApplication>? configureApp = null)
    {
        var time = new FakeTimeProvider();
        var calls = new HandlerCalls();
        var host = await MeshTestHost.StartAsync(
            json,
            b =>
            {
                b.Services.AddSingleton<TimeProvider>(time);
                b.Services.AddSingleton(calls);
                configureServices?.Invoke(b);
                b.Services.AddGrpc();
                b.Services.AddSecureMesh();
            },
            app =>
            {
                app.MapGrpcService<RecordingEchoService>();
                app.MapGet("/orders", () =>
                {
                    calls.RecordHttp();
                    return "ok";
                }).RequireMeshRateLimit();
                configureApp?.Invoke(app);
            });
        return new RateLimitedService(host, time, calls);
    }

    public static Metadata Caller(string serviceId) => new() { { ServiceIdHeader, serviceId } };

    /// <summary>One unary call; returns its status (OK or the error status).</summary>
    public async Task<StatusCode> SayAsync(Metadata? headers = null) => (await SayWithErrorAsync(headers)).Status;

    /// <summary>One unary call; returns its status and, when it failed, the exception with message and trailers.</summary>
    public async Task<(StatusCode Status, RpcException? Error)> SayWithErrorAsync(Metadata? headers = null)
    {
        try
        {
            await Client.SayAsync(new EchoRequest { Text = "hi" }, headers, cancellationToken: TestContext.Current.CancellationToken);
            return (StatusCode.OK, null);
        }
        catch (RpcException ex)
        {
            return (ex.StatusCode, ex);
        }
    }

    /// <summary>GET /orders with an optional <c>x-mesh-service-id</c>.</summary>
    public async Task<HttpResponseMessage> GetOrdersAsync(string? serviceId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/orders")
        {
            Version = System.Net.HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        if (serviceId is not null)
        {
            request.Headers.Add(ServiceIdHeader, serviceId);
        }

        return await Http.SendAsync(request, TestContext.Current.CancellationToken);
    }

    /// <summary>Calls Say <paramref name="count"/> times, up to 32 at once over one HTTP/2 connection; returns how many were admitted.</summary>
    public async Task<int> SayManyAsync(int count, Metadata? headers = null, int parallelism = 32)
    {
        var admitted = 0;
        await Parallel.ForEachAsync(
            Enumerable.Range(0, count),
            new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = TestContext.Current.CancellationToken },
            async (_, _) =>
            {
                if (await SayAsync(headers) == StatusCode.OK)
                {
                    Interlocked.Increment(ref admitted);
                }
            });
        return admitted;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Channel.Dispose();
        await Host.DisposeAsync();
    }
}
