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
/// whenever the balancer reports a failed connection (gRPC's polling resolver runs one resolution at a time).
/// </summary>
internal sealed class MeshResolver : PollingResolver
{
    private readonly string _serviceId;
    private readonly ServiceEndpoints _endpoints;
    private readonly IOptionsMonitor<SecureMeshOptions> _options;
    private readonly TimeProvider _timeProvider;
    private IDisposable? _subscription;
    private ITimer? _dnsTimer;
    private int _version;

    public MeshResolver(string serviceId, ServiceEndpoints endpoints, IOptionsMonitor<SecureMeshOptions> options, TimeProvider timeProvider, ILoggerFactory loggerFactory)
        : base(loggerFactory)
    {
        _serviceId = serviceId;
        _endpoints = endpoints;
        _options = options;
        _timeProvider = timeProvider;
    }

    protected override void OnStarted()
    {
        _subscription = _options.OnChange(_ => OnReload());
    }

    protected override async Task ResolveAsync(CancellationToken cancellationToken)
    {
        // A reload that arrives while a resolution runs is not lost: the resolution runs again until none arrived.
        int version;
        do
        {
            version = Volatile.Read(ref _version);
            var entry = EndpointRegistry.FindEntry(_options.CurrentValue.Discovery, _serviceId);
            ResolverResult result;
            if (entry is null)
            {
                result = ResolverResult.ForFailure(new Status(StatusCode.Unavailable, $"Mesh:Discovery:Services no longer lists the service '{_serviceId}'."));
            }
            else if (entry.Dns)
            {
                // Only a DNS entry is resolved periodically; the timer stays, and does nothing, if a reload drops Dns.
                if (_dnsTimer is null)
                {
                    _dnsTimer = _timeProvider.CreateTimer(
                        static state => ((MeshResolver)state!).RefreshDns(), this, DiscoveryConstants.DnsRefreshInterval, DiscoveryConstants.DnsRefreshInterval);
                }

                result = await ResolveDnsAsync(entry, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                result = ResolverResult.ForResult(EndpointRegistry.AddressesOf(entry));
            }

            if (result.Status.StatusCode == StatusCode.OK && result.Addresses is { } addresses)
            {
                _endpoints.SetCurrent(addresses);
            }

            Listener(result);
        }
        while (Volatile.Read(ref _version) != version);
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

    private void OnReload()
    {
        Interlocked.Increment(ref _version);
        try
        {
            Refresh();
        }
        catch (ObjectDisposedException)
        {
            // The channel was disposed while the options reloaded.
        }
    }

    private void RefreshDns()
    {
        if (EndpointRegistry.FindEntry(_options.CurrentValue.Discovery, _serviceId) is { Dns: true })
        {
            try
            {
                Refresh();
            }
            catch (ObjectDisposedException)
            {
                // The channel was disposed between the timer's tick and the refresh.
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        _subscription?.Dispose();
        _dnsTimer?.Dispose();
        base.Dispose(disposing);
    }
}
