using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Mesh.AspNetCore.Configuration.Internal;

/// <summary>
/// Tells <see cref="IOptionsMonitor{TOptions}"/> that <see cref="SecureMeshOptions"/> changed only after the reloaded
/// configuration has passed validation. An invalid reload is logged with the keys at fault and the last valid
/// options stay in force, instead of the monitor throwing on the configuration's reload thread.
/// </summary>
/// <remarks>
/// A reload may run on the configuration's thread (a file watcher's) while the application shuts down: once this source
/// or the container is disposed, a reload is ignored rather than reported as invalid configuration, and the change
/// sources are never disposed, so that a reload or a monitor reading its token never meets a disposed one (they hold
/// no timer and no handle, so there is nothing to release).
/// </remarks>
internal sealed partial class ValidatedReloadTokenSource : IOptionsChangeTokenSource<SecureMeshOptions>, IDisposable
{
    private readonly ValidatedOptionsFactory _factory;
    private readonly ILogger _logger;
    private readonly List<IDisposable> _subscriptions = [];
    private CancellationTokenSource _changed = new();
    private volatile bool _disposed;

    public ValidatedReloadTokenSource(
        IEnumerable<MeshConfigurationSource> sources,
        IServiceProvider services,
        ValidatedOptionsFactory factory,
        ILogger<ValidatedReloadTokenSource> logger)
    {
        _factory = factory;
        _logger = logger;
        foreach (var source in sources)
        {
            var configuration = source.Resolve(services);
            _subscriptions.Add(ChangeToken.OnChange(configuration.GetReloadToken, OnConfigurationReloaded));
        }
    }

    public string Name => Options.DefaultName;

    public IChangeToken GetChangeToken() => new CancellationChangeToken(Volatile.Read(ref _changed).Token);

    private void OnConfigurationReloaded()
    {
        if (_disposed)
        {
            return;
        }

        try
        {
            _factory.BuildValidated();
        }
        catch (ObjectDisposedException)
        {
            // The application is shutting down: its container is disposed, and nothing will read the options again.
            return;
        }
        catch (OptionsValidationException ex)
        {
            LogInvalidReload(_logger, string.Join(" ", ex.Failures));
            return;
        }
        catch (InvalidOperationException ex)
        {
            // The binder reports a value that does not convert (for example "MaxRequests": "many") this way.
            LogInvalidReload(_logger, ex.Message);
            return;
        }

        var previous = Interlocked.Exchange(ref _changed, new CancellationTokenSource());
        try
        {
            previous.Cancel();
        }
        catch (AggregateException ex) when (!_disposed)
        {
            // The configuration was valid and is in force: what failed is code that listens for its changes.
            LogChangeSubscriberFailed(_logger, ex.InnerException ?? ex);
        }
        catch (AggregateException)
        {
            // A subscriber met the shutdown (a disposed service): nothing to report.
        }
    }

    public void Dispose()
    {
        _disposed = true;
        foreach (var subscription in _subscriptions)
        {
            subscription.Dispose();
        }
    }

    [LoggerMessage(EventId = 1001, EventName = "InvalidMeshConfigurationReload", Level = LogLevel.Error,
        Message = "The reloaded Mesh configuration is invalid and was not applied; the last valid configuration stays in force. {Errors}")]
    private static partial void LogInvalidReload(ILogger logger, string errors);

    [LoggerMessage(EventId = 1002, EventName = "MeshConfigurationChangeSubscriberFailed", Level = LogLevel.Error,
        Message = "The reloaded Mesh configuration is in force, but a subscriber to its change failed.")]
    private static partial void LogChangeSubscriberFailed(ILogger logger, Exception exception);
}
