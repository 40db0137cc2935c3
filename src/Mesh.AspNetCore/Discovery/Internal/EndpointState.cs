using Grpc.Core;
using Grpc.Net.Client.Balancer;

namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>
/// One endpoint of a target service: the attempts it received and their outcome, its outlier ejection, and the
/// subchannels that connect to it (one per mesh channel of the service).
/// </summary>
internal sealed class EndpointState : IDisposable
{
    /// <summary>Where a subchannel of a mesh channel carries its endpoint, for the picker and the outcome handler.</summary>
    public static readonly BalancerAttributesKey<EndpointState> Key = new("Mesh.AspNetCore.Endpoint");

    private readonly ServiceEndpoints _service;
    private readonly List<TrackedSubchannel> _subchannels = [];
    private long _calls;
    private long _failures;
    private int _consecutiveFailures;
    private int _ejections;
    private volatile bool _ejected;
    private ITimer? _ejectionTimer;

    public EndpointState(ServiceEndpoints service, string address)
    {
        _service = service;
        Address = address;
    }

    /// <summary>The endpoint as <c>host:port</c>.</summary>
    public string Address { get; }

    /// <summary>Whether the endpoint is ejected: the picker skips it while another endpoint is ready.</summary>
    public bool IsEjected => _ejected;

    public long Calls => Volatile.Read(ref _calls);

    public long Failures => Volatile.Read(ref _failures);

    /// <summary>Follows the connectivity state of a subchannel that connects to this endpoint, for the stats.</summary>
    public void Track(Subchannel subchannel)
    {
        var tracked = new TrackedSubchannel();
        lock (_subchannels)
        {
            _subchannels.RemoveAll(static s => s.State == ConnectivityState.Shutdown);
            _subchannels.Add(tracked);
        }

        subchannel.OnStateChanged(s => tracked.State = s.State);
    }

    /// <summary>An attempt on this endpoint succeeded (or failed with a status that says nothing about the endpoint).</summary>
    public void Succeeded()
    {
        Interlocked.Increment(ref _calls);
        if (Volatile.Read(ref _consecutiveFailures) != 0)
        {
            Volatile.Write(ref _consecutiveFailures, 0);
        }
    }

    /// <summary>An attempt on this endpoint failed with <paramref name="status"/>, one of the circuit breaker's failure statuses.</summary>
    public void Failed(StatusCode status)
    {
        Interlocked.Increment(ref _calls);
        Interlocked.Increment(ref _failures);
        var consecutive = Interlocked.Increment(ref _consecutiveFailures);
        var options = _service.Registry.OutlierDetection;
        if (!options.Enabled || consecutive < options.ConsecutiveFailures || _ejected)
        {
            return;
        }

        var registry = _service.Registry;
        if (_service.TryEject(this, options, out var ejected, out var count))
        {
            var ejections = Volatile.Read(ref _ejections);
            var time = (long)options.BaseEjectionTime * ejections;
            EndpointRegistry.LogEjected(registry.Logger, Address, _service.ServiceId, time, consecutive, status, ejections);
            registry.Metrics.Transition(_service.ServiceId, Address, EndpointMetrics.Ejected);
        }
        else if (!_ejected)
        {
            EndpointRegistry.LogEjectionLimited(registry.Logger, Address, _service.ServiceId, consecutive, ejected, count, options.MaxEjectionPercent);
        }
    }

    /// <summary>Ejects the endpoint for <paramref name="baseTime"/> times its number of ejections. Called under the service's lock.</summary>
    public void Eject(TimeSpan baseTime)
    {
        var ejections = Interlocked.Increment(ref _ejections);
        _ejected = true;
        var timer = _service.Registry.TimeProvider.CreateTimer(
            static state => ((EndpointState)state!).Return(), this, baseTime * ejections, Timeout.InfiniteTimeSpan);
        Interlocked.Exchange(ref _ejectionTimer, timer)?.Dispose();
    }

    private void Return()
    {
        Interlocked.Exchange(ref _ejectionTimer, null)?.Dispose();
        Volatile.Write(ref _consecutiveFailures, 0);
        _ejected = false;
        var registry = _service.Registry;
        EndpointRegistry.LogReturned(registry.Logger, Address, _service.ServiceId);
        registry.Metrics.Transition(_service.ServiceId, Address, EndpointMetrics.Returned);
    }

    public EndpointStats Snapshot() => new()
    {
        Address = Address,
        State = StateWord(),
        Calls = Calls,
        Failures = Failures,
    };

    /// <summary><c>ejected</c>, else the best connectivity state of its subchannels as gRPC words it (<c>ready</c>, <c>connecting</c>, <c>idle</c>, <c>transient_failure</c>).</summary>
    private string StateWord()
    {
        if (_ejected)
        {
            return "ejected";
        }

        var best = ConnectivityState.Shutdown;
        lock (_subchannels)
        {
            foreach (var subchannel in _subchannels)
            {
                var state = subchannel.State;
                if (Rank(state) > Rank(best))
                {
                    best = state;
                }
            }
        }

        return best switch
        {
            ConnectivityState.Ready => "ready",
            ConnectivityState.Connecting => "connecting",
            ConnectivityState.TransientFailure => "transient_failure",
            _ => "idle",
        };

        static int Rank(ConnectivityState state) => state switch
        {
            ConnectivityState.Ready => 4,
            ConnectivityState.Connecting => 3,
            ConnectivityState.Idle => 2,
            ConnectivityState.TransientFailure => 1,
            _ => 0,
        };
    }

    public void Dispose() => Interlocked.Exchange(ref _ejectionTimer, null)?.Dispose();

    private sealed class TrackedSubchannel
    {
        private volatile int _state = (int)ConnectivityState.Idle;

        public ConnectivityState State
        {
            get => (ConnectivityState)_state;
            set => _state = (int)value;
        }
    }
}
