using System.Globalization;
using System.Net;
using Grpc.Net.Client.Balancer;

namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>
/// The endpoints of one target service: the list its resolver published last, with the state and counts of each.
/// </summary>
internal sealed class ServiceEndpoints : IDisposable
{
    private readonly object _gate = new();
    private readonly Dictionary<string, EndpointState> _known = new(StringComparer.OrdinalIgnoreCase);
    private EndpointState[] _current = [];

    public ServiceEndpoints(string serviceId, EndpointRegistry registry)
    {
        ServiceId = serviceId;
        Registry = registry;
    }

    public string ServiceId { get; }

    public EndpointRegistry Registry { get; }

    /// <summary>The endpoints the resolver published last.</summary>
    public EndpointState[] Current => Volatile.Read(ref _current);

    public static string AddressOf(DnsEndPoint endPoint) =>
        endPoint.Host.Contains(':', StringComparison.Ordinal)
            ? string.Create(CultureInfo.InvariantCulture, $"[{endPoint.Host}]:{endPoint.Port}")
            : string.Create(CultureInfo.InvariantCulture, $"{endPoint.Host}:{endPoint.Port}");

    public EndpointState GetOrAdd(DnsEndPoint endPoint)
    {
        var address = AddressOf(endPoint);
        lock (_gate)
        {
            if (!_known.TryGetValue(address, out var state))
            {
                state = new EndpointState(this, address);
                _known.Add(address, state);
            }

            return state;
        }
    }

    /// <summary>
    /// Takes the endpoints a resolver published: they are the service's endpoints from now on. Endpoints no longer
    /// published are forgotten, so memory stays bounded however often DNS answers change; one published again starts
    /// with new counts.
    /// </summary>
    public void SetCurrent(IReadOnlyList<BalancerAddress> addresses)
    {
        lock (_gate)
        {
            var current = new EndpointState[addresses.Count];
            for (var i = 0; i < current.Length; i++)
            {
                current[i] = GetOrAdd(addresses[i].EndPoint);
            }

            foreach (var (address, state) in _known.ToArray())
            {
                if (Array.IndexOf(current, state) < 0)
                {
                    _known.Remove(address);
                    state.Dispose();
                }
            }

            Volatile.Write(ref _current, current);
        }
    }

    /// <summary>
    /// Ejects <paramref name="endpoint"/> unless that would put more than MaxEjectionPercent of the current endpoints
    /// (or all of them) out of use. Serialised per service, so two endpoints failing at once cannot both take the last slot.
    /// </summary>
    public bool TryEject(EndpointState endpoint, OutlierDetectionOptions options, out int ejected, out int count)
    {
        lock (_gate)
        {
            var current = Current;
            count = current.Length;
            ejected = 0;
            var listed = false;
            foreach (var state in current)
            {
                listed |= ReferenceEquals(state, endpoint);
                if (state.IsEjected)
                {
                    ejected++;
                }
            }

            var allowed = Math.Min(count - 1, count * options.MaxEjectionPercent / 100);
            if (!listed || endpoint.IsEjected || ejected >= allowed)
            {
                return false;
            }

            endpoint.Eject(TimeSpan.FromMilliseconds(options.BaseEjectionTime));
            return true;
        }
    }

    public int EjectedCount()
    {
        var ejected = 0;
        foreach (var state in Current)
        {
            if (state.IsEjected)
            {
                ejected++;
            }
        }

        return ejected;
    }

    public IReadOnlyList<EndpointStats> Snapshot()
    {
        var current = Current;
        var stats = new EndpointStats[current.Length];
        for (var i = 0; i < current.Length; i++)
        {
            stats[i] = current[i].Snapshot();
        }

        return stats;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var state in _known.Values)
            {
                state.Dispose();
            }
        }
    }
}
