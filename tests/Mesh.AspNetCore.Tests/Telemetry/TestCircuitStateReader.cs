using System.Collections.Concurrent;
using Mesh.AspNetCore.Telemetry.Internal;

namespace Mesh.AspNetCore.Tests.Telemetry;

/// <summary>Stands in for the registered clients' breakers: the states a test sets are what the mesh reads.</summary>
internal sealed class TestCircuitStateReader : ICircuitStateReader
{
    private readonly List<string> _order = [];
    private readonly ConcurrentDictionary<string, CircuitState> _states = new();

    public TestCircuitStateReader(params string[] serviceIds)
    {
        foreach (var serviceId in serviceIds)
        {
            Set(serviceId, CircuitState.Closed);
        }
    }

    public void Set(string serviceId, CircuitState state)
    {
        lock (_order)
        {
            if (_states.TryAdd(serviceId, state))
            {
                _order.Add(serviceId);
            }
            else
            {
                _states[serviceId] = state;
            }
        }
    }

    public IEnumerable<KeyValuePair<string, CircuitState>> GetCircuitStates()
    {
        lock (_order)
        {
            return _order.Select(id => KeyValuePair.Create(id, _states[id])).ToArray();
        }
    }
}
