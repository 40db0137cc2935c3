using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>
/// Connects to the shared store when the host starts with <c>Store: Redis</c>, so the first requests find the
/// connection made (making it takes longer than <c>Mesh:Redis:TimeoutMs</c> on a busy machine). The host waits for it
/// at most <see cref="RedisStoreConstants.ConnectTimeoutMs"/>: a store that is down at startup is an outage like any
/// other, and the host starts anyway.
/// </summary>
internal sealed class RedisStoreWarmup(IOptionsMonitor<SecureMeshOptions> options, RedisConnection connection, TimeProvider time) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var limit = options.CurrentValue.Resilience.RateLimit;
        if (!limit.IsEnabled || limit.Store != RateLimitStore.Redis)
        {
            return;
        }

        var connecting = connection.GetAsync();
        try
        {
            await connecting.WaitAsync(TimeSpan.FromMilliseconds(RedisStoreConstants.ConnectTimeoutMs), time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Requests take the fallback until the store answers; the task is observed here whatever its end.
            _ = connecting.ContinueWith(static task => _ = task.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
