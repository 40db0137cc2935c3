using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>
/// The connection to the shared store: made from <c>Mesh:Redis:Configuration</c> on first use (and then owned and
/// disposed here), or else the <see cref="IConnectionMultiplexer"/> the application registered. A connection the mesh
/// makes never blocks a request: it does not abort when the store is down, fails commands at once while disconnected,
/// and checks its connection every <see cref="RedisStoreConstants.HeartbeatMs"/> to reconnect soon after the store is back.
/// </summary>
internal sealed class RedisConnection(IOptionsMonitor<SecureMeshOptions> options, IServiceProvider services) : IDisposable, IAsyncDisposable
{
    private readonly Lock _lock = new();
    private Task<IConnectionMultiplexer>? _connecting;
    private bool _owned;
    private bool _disposed;

    /// <summary>The connection, or the task making it. A failed attempt is forgotten, so the next call tries again.</summary>
    public Task<IConnectionMultiplexer> GetAsync()
    {
        var connecting = Volatile.Read(ref _connecting);
        if (connecting is not null && !connecting.IsFaulted && !connecting.IsCanceled)
        {
            return connecting;
        }

        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_connecting is null || _connecting.IsFaulted || _connecting.IsCanceled)
            {
                _connecting = Connect();
            }

            return _connecting;
        }
    }

    private Task<IConnectionMultiplexer> Connect()
    {
        var redis = options.CurrentValue.Redis;
        if (redis.Configuration is null && services.GetService<IConnectionMultiplexer>() is { } registered)
        {
            _owned = false;
            return PrepareAsync(registered);
        }

        _owned = true;
        return ConnectAsync(CreateConfiguration(redis));
    }

    /// <summary>
    /// Loads the rate-limit script on every connected server, now and whenever a connection is restored (a restarted
    /// store has lost it): StackExchange.Redis then sends its hash (<c>EVALSHA</c>) instead of its text, and the
    /// server has compiled it before the first request needs it. Until it is loaded, the script is sent in full.
    /// </summary>
    private static async Task<IConnectionMultiplexer> PrepareAsync(IConnectionMultiplexer connection)
    {
        connection.ConnectionRestored += static (sender, args) =>
        {
            if (sender is IConnectionMultiplexer restored)
            {
                _ = LoadScriptAsync(restored);
            }
        };
        await LoadScriptAsync(connection).ConfigureAwait(false);
        return connection;
    }

    private static async Task LoadScriptAsync(IConnectionMultiplexer connection)
    {
        foreach (var server in connection.GetServers())
        {
            try
            {
                if (server.IsConnected)
                {
                    await server.ScriptLoadAsync(RedisRateLimitStore.Script).ConfigureAwait(false);
                }
            }
            catch (Exception)
            {
                // Not loaded (store down, connection closing): requests send the script's text until it is. Nothing
                // may escape, since the restore handler does not await this.
            }
        }
    }

    internal static ConfigurationOptions CreateConfiguration(RedisOptions redis)
    {
        var configuration = ConfigurationOptions.Parse(redis.Configuration
            ?? throw new InvalidOperationException("Mesh:Redis:Configuration is required when Mesh:Resilience:RateLimit:Store is 'Redis' and no IConnectionMultiplexer is registered."));
        configuration.AbortOnConnectFail = false;
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        configuration.ConnectTimeout = Math.Max(redis.TimeoutMs, RedisStoreConstants.ConnectTimeoutMs);
        configuration.SyncTimeout = redis.TimeoutMs;
        configuration.AsyncTimeout = redis.TimeoutMs;
        configuration.HeartbeatInterval = TimeSpan.FromMilliseconds(RedisStoreConstants.HeartbeatMs);
        configuration.ReconnectRetryPolicy = new LinearRetry(RedisStoreConstants.HeartbeatMs);
        return configuration;
    }

    private static async Task<IConnectionMultiplexer> ConnectAsync(ConfigurationOptions configuration) =>
        await PrepareAsync(await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false)).ConfigureAwait(false);

    public void Dispose()
    {
        var connecting = TakeOwnedConnection();
        if (connecting is { IsCompletedSuccessfully: true })
        {
            connecting.Result.Dispose();
        }
        else
        {
            connecting?.ContinueWith(static task => task.Result.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            connecting?.ContinueWith(static task => _ = task.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
    }

    public async ValueTask DisposeAsync()
    {
        var connecting = TakeOwnedConnection();
        if (connecting is null)
        {
            return;
        }

        try
        {
            var connection = await connecting.ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        catch (RedisException)
        {
            // The connection was never made: nothing to close.
        }
    }

    private Task<IConnectionMultiplexer>? TakeOwnedConnection()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return null;
            }

            _disposed = true;
            return _owned ? _connecting : null;
        }
    }
}
