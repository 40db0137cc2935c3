using System.Collections.Concurrent;
using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.AspNetCore.Tests.Infrastructure;
using Mesh.AspNetCore.Tests.Protos;
using Mesh.AspNetCore.Tests.Resilience;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.Reliability;

/// <summary>
/// Bursts from many callers at once against the inbound rate limiter, over Kestrel, on gRPC and a rate-limited HTTP
/// endpoint together, for several windows of a fake clock.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public sealed class RateLimitLoadTests
{
    private const int Callers = 64;
    private const int MaxRequests = 5;
    private const int GrpcPerCaller = 6;
    private const int HttpPerCaller = 3;
    private const int Windows = 3;

    [Fact]
    public async Task Burst_64CallersForSeveralWindows_EachCallerAdmittedExactlyMaxRequestsPerWindowAndRejectionsNeverReachAHandler()
    {
        var time = new FakeTimeProvider();
        var script = new EchoScript();
        var httpHandled = new ConcurrentDictionary<string, int>();
        await using var host = await MeshTestHost.StartAsync(
            $$"""{ "Mesh": { "ServiceId": "inventory-service", "Resilience": { "RateLimit": { "MaxRequests": {{MaxRequests}}, "WindowMs": 60000 } } } }""",
            b =>
            {
                b.Services.AddSingleton<TimeProvider>(time);
                b.Services.AddSingleton(script);
                b.Services.AddGrpc();
                b.Services.AddSecureMesh();
            },
            app =>
            {
                app.MapGrpcService<ScriptedEcho>();
                app.MapGet("/orders", (HttpRequest request) =>
                {
                    httpHandled.AddOrUpdate(request.Headers["x-mesh-service-id"].ToString(), 1, (_, n) => n + 1);
                    return "ok";
                }).RequireMeshRateLimit();
            });
        var channels = Enumerable.Range(0, Callers).Select(_ => host.CreateChannel()).ToArray();
        using var http = host.CreateHttpClient();

        try
        {
            for (var window = 0; window < Windows; window++)
            {
                var grpcHandledBefore = script.Callers.Count;
                var httpHandledBefore = httpHandled.Values.Sum();
                using var start = new SemaphoreSlim(0);
                var requests = Enumerable.Range(0, Callers).SelectMany(caller =>
                    Enumerable.Range(0, GrpcPerCaller).Select(_ => GrpcAsync(channels[caller], caller, start))
                        .Concat(Enumerable.Range(0, HttpPerCaller).Select(_ => HttpAsync(http, caller, start))))
                    .ToArray();
                start.Release(requests.Length);
                var results = await Task.WhenAll(requests);

                var admitted = results.Where(r => r.Admitted).GroupBy(r => r.Caller).ToDictionary(g => g.Key, g => g.Count());
                Assert.All(Enumerable.Range(0, Callers), caller => Assert.Equal(MaxRequests, admitted.GetValueOrDefault(caller)));
                Assert.All(results.Where(r => !r.Admitted), r => Assert.True(r.Rejected, $"caller {r.Caller} got {r.Outcome}"));
                var handled = script.Callers.Count - grpcHandledBefore + httpHandled.Values.Sum() - httpHandledBefore;
                Assert.Equal(Callers * MaxRequests, handled);

                time.Advance(TimeSpan.FromMinutes(1));
            }

            var grpcByCaller = script.Callers.GroupBy(c => c!).ToDictionary(g => g.Key, g => g.Count());
            Assert.All(Enumerable.Range(0, Callers), caller => Assert.Equal(
                Windows * MaxRequests,
                grpcByCaller.GetValueOrDefault(Id(caller)) + httpHandled.GetValueOrDefault(Id(caller))));
            Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= LogLevel.Error);
        }
        finally
        {
            foreach (var channel in channels)
            {
                channel.Dispose();
            }
        }
    }

    private static string Id(int caller) => $"caller-{caller:00}";

    private static async Task<Result> GrpcAsync(GrpcChannel channel, int caller, SemaphoreSlim start)
    {
        await start.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            await new Echo.EchoClient(channel).SayAsync(
                new EchoRequest { Text = "burst" },
                new Metadata { { "x-mesh-service-id", Id(caller) } },
                cancellationToken: TestContext.Current.CancellationToken);
            return new Result(caller, true, false, "OK");
        }
        catch (RpcException ex)
        {
            return new Result(caller, false, ex.StatusCode == StatusCode.ResourceExhausted, ex.StatusCode.ToString());
        }
    }

    private static async Task<Result> HttpAsync(HttpClient http, int caller, SemaphoreSlim start)
    {
        await start.WaitAsync(TestContext.Current.CancellationToken);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/orders") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        request.Headers.Add("x-mesh-service-id", Id(caller));
        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        return new Result(caller, response.StatusCode == HttpStatusCode.OK, response.StatusCode == HttpStatusCode.TooManyRequests, response.StatusCode.ToString());
    }

    private readonly record struct Result(int Caller, bool Admitted, bool Rejected, string Outcome);
}
