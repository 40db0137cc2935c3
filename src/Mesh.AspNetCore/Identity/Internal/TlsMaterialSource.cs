using Mesh.AspNetCore.Configuration.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Identity.Internal;

/// <summary>
/// Holds the TLS material in force and replaces it when the <c>Mesh:Tls</c> files change: the directories of the files
/// are watched, and the files are also compared every <see cref="IdentityConstants.PollInterval"/> in case a change
/// event was missed (network file systems, Kubernetes secret volumes that swap a symbolic link). Each handshake reads
/// <see cref="Current"/>, so new connections use new files without a restart; open connections keep theirs. A new set
/// that fails the startup checks is logged and the last good one stays in force.
/// </summary>
internal sealed partial class TlsMaterialSource : IDisposable
{
    private readonly TlsOptions _tls;
    private readonly string _root;
    private readonly string _serviceId;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly List<FileSystemWatcher> _watchers = [];
    private TlsMaterial? _current;
    private TlsFileSnapshot? _lastRefused;
    private ITimer? _poll;
    private ITimer? _settle;
    private bool _disposed;

    public TlsMaterialSource(IOptionsMonitor<SecureMeshOptions> options, IEnumerable<MeshConfigurationSource> sources, IServiceProvider services,
        TimeProvider time, ILogger<TlsMaterialSource> logger)
    {
        // The monitor's value, validated at startup: created lazily (by the first channel), this source must not
        // build the options again from a configuration that may have been reloaded with invalid values since.
        var current = options.CurrentValue;
        _tls = current.Tls;
        _serviceId = current.ServiceId;
        _root = TlsOptionsValidator.TlsKey(sources, services);
        _time = time;
        _logger = logger;
    }

    /// <summary>Raised after each reload attempt, with whether new material came into force.</summary>
    internal event Action<bool>? Reloaded;

    /// <summary>Whether <c>Mesh:Tls</c> is set.</summary>
    public bool IsEnabled => _tls.IsConfigured;

    /// <summary>The material in force. Read at every handshake; loaded and watched from the first read.</summary>
    /// <exception cref="InvalidOperationException">The files fail the checks; validation at startup reports this first.</exception>
    public TlsMaterial Current => Volatile.Read(ref _current) ?? LoadFirst();

    private TlsMaterial LoadFirst()
    {
        lock (_gate)
        {
            if (_current is { } loaded)
            {
                return loaded;
            }

            var errors = new List<string>();
            var files = TlsMaterialLoader.Read(_tls, _root, errors);
            var material = files is null ? null : TlsMaterialLoader.Load(_tls, _root, files, _time.GetUtcNow(), errors);
            if (material is null)
            {
                throw new InvalidOperationException(string.Join(" ", errors));
            }

            if (!string.Equals(material.Identity.Name, _serviceId, StringComparison.OrdinalIgnoreCase))
            {
                LogIdentityDiffersFromServiceId(_logger, $"{_root}:CertificatePath", material.Identity.Name, _serviceId);
            }

            Volatile.Write(ref _current, material);
            StartWatching();
            return material;
        }
    }

    /// <summary>Reads the files and puts them in force if they changed and pass the checks.</summary>
    internal void Reload()
    {
        bool rotated;
        lock (_gate)
        {
            if (_disposed || _current is not { } current)
            {
                return;
            }

            rotated = TryRotate(current);
        }

        Reloaded?.Invoke(rotated);
    }

    private bool TryRotate(TlsMaterial current)
    {
        var errors = new List<string>();
        var files = TlsMaterialLoader.Read(_tls, _root, errors);
        if (files is not null && (files.SameAs(current.Files) || (_lastRefused is not null && files.SameAs(_lastRefused))))
        {
            return false;
        }

        var material = files is null ? null : TlsMaterialLoader.Load(_tls, _root, files, _time.GetUtcNow(), errors);
        if (material is null)
        {
            // A file read half-way through a rotation is refused too; the next change event or poll reads it whole.
            _lastRefused = files;
            LogRotationRefused(_logger, current.Identity.Name, string.Join(" ", errors));
            return false;
        }

        _lastRefused = null;
        Volatile.Write(ref _current, material);
        LogRotated(_logger, material.Identity.Name, material.Certificate.NotAfter.ToUniversalTime());

        // The previous material is left to the garbage collector: a handshake that read it may still be using it.
        return true;
    }

    private void StartWatching()
    {
        _poll = _time.CreateTimer(static state => ((TlsMaterialSource)state!).Reload(), this, IdentityConstants.PollInterval, IdentityConstants.PollInterval);
        _settle = _time.CreateTimer(static state => ((TlsMaterialSource)state!).Reload(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        var directories = new[] { _tls.CertificatePath!, _tls.KeyPath!, _tls.CaPath! }
            .Select(static path => Path.GetDirectoryName(Path.GetFullPath(path))!)
            .Distinct(StringComparer.Ordinal);
        foreach (var directory in directories)
        {
            try
            {
                var watcher = new FileSystemWatcher(directory)
                {
                    IncludeSubdirectories = false,
                    NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
                };
                watcher.Changed += OnFileEvent;
                watcher.Created += OnFileEvent;
                watcher.Deleted += OnFileEvent;
                watcher.Renamed += OnFileEvent;
                watcher.Error += OnWatcherError;
                watcher.EnableRaisingEvents = true;
                _watchers.Add(watcher);
            }
            catch (Exception ex) when (ex is IOException or ArgumentException or PlatformNotSupportedException or UnauthorizedAccessException)
            {
                LogWatchFailed(_logger, directory, ex.Message);
            }
        }
    }

    // A writer usually changes a file in several steps; reading once they have settled avoids refusing a half-written file.
    private void OnFileEvent(object sender, FileSystemEventArgs e) =>
        _settle?.Change(IdentityConstants.ChangeSettleDelay, Timeout.InfiniteTimeSpan);

    private void OnWatcherError(object sender, ErrorEventArgs e) => LogWatchFailed(_logger, ((FileSystemWatcher)sender).Path, e.GetException().Message);

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
        }

        _poll?.Dispose();
        _settle?.Dispose();
        foreach (var watcher in _watchers)
        {
            watcher.Dispose();
        }
    }

    [LoggerMessage(EventId = 8001, EventName = "TlsMaterialRotated", Level = LogLevel.Information,
        Message = "New mesh TLS files are in force for new connections: identity '{Identity}', certificate valid until {NotAfter:O}.")]
    private static partial void LogRotated(ILogger logger, string identity, DateTime notAfter);

    [LoggerMessage(EventId = 8002, EventName = "TlsMaterialRotationRefused", Level = LogLevel.Warning,
        Message = "The changed mesh TLS files were not applied; the certificate of '{Identity}' in force stays. {Errors}")]
    private static partial void LogRotationRefused(ILogger logger, string identity, string errors);

    [LoggerMessage(EventId = 8003, EventName = "TlsWatchFailed", Level = LogLevel.Warning,
        Message = "Cannot watch '{Directory}' for changed mesh TLS files ({Reason}); they are still compared every 30 seconds.")]
    private static partial void LogWatchFailed(ILogger logger, string directory, string reason);

    [LoggerMessage(EventId = 8004, EventName = "TlsIdentityDiffersFromServiceId", Level = LogLevel.Warning,
        Message = "{Key} identifies this service as '{Identity}' but Mesh:ServiceId is '{ServiceId}': the services it calls know it by its certificate.")]
    private static partial void LogIdentityDiffersFromServiceId(ILogger logger, string key, string identity, string serviceId);
}
