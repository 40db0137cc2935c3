using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client.Balancer;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>
/// Publishes the endpoints of one discovery entry to a mesh channel, and publishes them again when the mesh options
/// reload, so a running channel connects to added endpoints and stops using removed ones. A <c>"Dns": true</c> entry
/// resolves its host to all of its addresses, again every <see cref="DiscoveryConstants.DnsRefreshInterval"/> and
/// whenever the balancer reports a failed connection.
/// </summary>
/// <remarks>
/// One resolution runs at a time, and a refresh asked for while one runs is never dropped: the running one resolves
/// again before it ends. (gRPC's <c>PollingResolver</c> ignores a refresh while its resolution task has not completed,
/// which includes the moment after the resolution's last look at the options; a reload arriving then would be lost,
/// leaving the channel on the old endpoints.)
/// </remarks>
internal sealed partial class MeshResolver : Resolver
{
    private readonly string _serviceId;
    private readonly ServiceEndpoints _endpoints;
    private readonly IOptionsMonitor<SecureMeshOptions> _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<MeshResolver> _logger;
    private readonly CancellationTokenSource _disposed = new();
    private Action<ResolverResult>? _listener;
    private IDisposable? _subscription;
    private ITimer? _dnsTimer;

    // Refreshes asked for and not yet resolved: the first starts a resolution, which runs until it has resolved after
    // the last of them.
    private int _requested;

    public MeshResolver(string serviceId, ServiceEndpoints endpoints, IOptionsMonitor<SecureMeshOptions> options, TimeProvider timeProvider, ILoggerFactory loggerFactory)
    {
        _serviceId = serviceId;
        _endpoints = endpoints;
        _options = options;
        _timeProvider = timeProvider;
        _logger = loggerFactory.CreateLogger<MeshResolver>();
    }

    /// <summary>Tests only: runs when a resolution has published its result, before it looks for refreshes asked for meanwhile.</summary>
    internal Action? OnPublished { get; set; }

    public override void Start(Action<ResolverResult> listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        if (Interlocked.CompareExchange(ref _listener, listener, null) is not null)
        {
            throw new InvalidOperationException("The resolver has already been started.");
        }

        _subscription = _options.OnChange(_ => RefreshUnlessDisposed());
    }

    public override void Refresh()
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        if (_listener is null)
        {
            throw new InvalidOperationException("The resolver has not been started.");
        }

        if (Interlocked.Increment(ref _requested) == 1)
        {
            _ = ResolveWhileRequestedAsync();
        }
    }

    private async Task ResolveWhileRequestedAsync()
    {
        var handled = Volatile.Read(ref _requested);
        while (!_disposed.IsCancellationRequested)
        {
            ResolverResult result;
            try
            {
                result = await ResolveAsync(_disposed.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_disposed.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogResolveFailed(_logger, _serviceId, ex);
                result = ResolverResult.ForFailure(new Status(StatusCode.Unavailable, $"Resolving the service '{_serviceId}' failed.", ex));
            }

            if (result.Status.StatusCode == StatusCode.OK && result.Addresses is { } addresses)
            {
                _endpoints.SetCurrent(addresses);
            }

            try
            {
                _listener!(result);
            }
            catch (ObjectDisposedException)
            {
                // The channel is being disposed, and disposes this resolver next: nothing to log. The refreshes this
                // resolution handled are still cleared below, so that one asked for later starts a resolution again.
            }
            catch (Exception ex)
            {
                // Not left to escape unobserved; the next refresh publishes again.
                LogPublishFailed(_logger, _serviceId, ex);
            }

            OnPublished?.Invoke();

            // Done unless a refresh was asked for since this resolution read the options; one asked for after this
            // starts a resolution of its own.
            if (Interlocked.CompareExchange(ref _requested, 0, handled) == handled)
            {
                return;
            }

            handled = Volatile.Read(ref _requested);
        }
    }

    private async Task<ResolverResult> ResolveAsync(CancellationToken cancellationToken)
    {
        var entry = EndpointRegistry.FindEntry(_options.CurrentValue.Discovery, _serviceId);
        if (entry is null)
        {
            return ResolverResult.ForFailure(new Status(StatusCode.Unavailable, $"Mesh:Discovery:Services no longer lists the service '{_serviceId}'."));
        }

        if (!entry.Dns)
        {
            return ResolverResult.ForResult(EndpointRegistry.AddressesOf(entry));
        }

        // Only a DNS entry is resolved periodically; the timer stays, and does nothing, if a reload drops Dns.
        if (_dnsTimer is null)
        {
            _dnsTimer = _timeProvider.CreateTimer(
                static state => ((MeshResolver)state!).RefreshDns(), this, DiscoveryConstants.DnsRefreshInterval, DiscoveryConstants.DnsRefreshInterval);
            if (_disposed.IsCancellationRequested)
            {
                _dnsTimer.Dispose(); // disposed meanwhile: Dispose may have missed the timer
            }
        }

        return await ResolveDnsAsync(entry, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<ResolverResult> ResolveDnsAsync(ServiceEndpoint entry, CancellationToken cancellationToken)
    {
        try
        {
            var addresses = await System.Net.Dns.GetHostAddressesAsync(entry.Host, cancellationToken).ConfigureAwait(false);
            if (addresses.Length == 0)
            {
                return ResolverResult.ForFailure(new Status(StatusCode.Unavailable, $"The DNS name '{entry.Host}' has no addresses."));
            }

            return ResolverResult.ForResult([.. addresses.Distinct().Select(a => new BalancerAddress(a.ToString(), entry.Port))]);
        }
        catch (SocketException ex)
        {
            return ResolverResult.ForFailure(new Status(StatusCode.Unavailable, $"Resolving the DNS name '{entry.Host}' failed: {ex.Message}", ex));
        }
    }

    private void RefreshDns()
    {
        if (EndpointRegistry.FindEntry(_options.CurrentValue.Discovery, _serviceId) is { Dns: true })
        {
            RefreshUnlessDisposed();
        }
    }

    // A reload or the DNS timer may fire while the channel is disposed.
    private void RefreshUnlessDisposed()
    {
        try
        {
            Refresh();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed.IsCancellationRequested)
        {
            _disposed.Cancel();
            _subscription?.Dispose();
            _dnsTimer?.Dispose();
        }

        base.Dispose(disposing);
    }

    [LoggerMessage(EventId = 4011, EventName = "ResolveFailed", Level = LogLevel.Error,
        Message = "Resolving the endpoints of {ServiceId} failed.")]
    private static partial void LogResolveFailed(ILogger logger, string serviceId, Exception exception);

    [LoggerMessage(EventId = 4012, EventName = "ResolvePublishFailed", Level = LogLevel.Error,
        Message = "The channel of {ServiceId} failed to take its resolved endpoints.")]
    private static partial void LogPublishFailed(ILogger logger, string serviceId, Exception exception);
}
