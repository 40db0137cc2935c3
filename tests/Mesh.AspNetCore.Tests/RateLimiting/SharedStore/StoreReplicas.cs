using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.RateLimiting.SharedStore;

/// <summary>
/// Replicas of one service: real Kestrel hosts with the same configuration, each with the recording Echo gRPC service
/// and the rate-limited <c>GET /orders</c>, on the real clock (the shared store's windows run on the store's clock).
/// </summary>
public sealed class StoreReplicas : IAsyncDisposable
{
    private StoreReplicas(IReadOnlyList<RateLimitedService> replicas) => Replicas = replicas;

    public IReadOnlyList<RateLimitedService> Replicas { get; }

    public RateLimitedService this[int index] => Replicas[index];

    public int Count => Replicas.Count;

    public static async Task<StoreReplicas> StartAsync(int count, string json, Action<WebApplicationBuilder>? configureServices = null)
    {
        var replicas = new List<RateLimitedService>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                replicas.Add(await RateLimitedService.StartWithJsonAsync(json, b =>
                {
                    b.Services.AddSingleton(TimeProvider.System);
                    configureServices?.Invoke(b);
                }));
            }
        }
        catch
        {
            foreach (var replica in replicas)
            {
                await replica.DisposeAsync();
            }

            throw;
        }

        return new StoreReplicas(replicas);
    }

    /// <summary>
    /// Makes <paramref name="callsPerCaller"/> calls for each of <paramref name="callers"/> callers, all callers at once,
    /// each call on the next replica in turn. Returns the statuses per caller.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, StatusCode[]>> CallAsync(IReadOnlyList<string> callers, int callsPerCaller)
    {
        var results = new Dictionary<string, StatusCode[]>();
        var tasks = callers.Select(async (caller, c) =>
        {
            var statuses = new StatusCode[callsPerCaller];
            var headers = RateLimitedService.Caller(caller);
            for (var i = 0; i < callsPerCaller; i++)
            {
                statuses[i] = await Replicas[(c + i) % Count].SayAsync(headers);
            }

            return (caller, statuses);
        });
        foreach (var (caller, statuses) in await Task.WhenAll(tasks))
        {
            results[caller] = statuses;
        }

        return results;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var replica in Replicas)
        {
            await replica.DisposeAsync();
        }
    }
}
