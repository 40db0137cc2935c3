namespace Mesh.AspNetCore.Telemetry.Internal;

/// <summary>Reads the current state of every registered service's circuit breaker, for gauges and stats.</summary>
internal interface ICircuitStateReader
{
    /// <summary>The target service ids of all registered mesh clients with their breaker's current state.</summary>
    IEnumerable<KeyValuePair<string, CircuitState>> GetCircuitStates();
}
