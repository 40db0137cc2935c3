namespace Mesh.AspNetCore;

/// <summary>The state of the circuit breaker of one target service.</summary>
public enum CircuitState
{
    /// <summary>Normal operation: calls flow through.</summary>
    Closed = 0,

    /// <summary>The service is failing: calls are rejected at once without touching the network.</summary>
    Open = 1,

    /// <summary>The open timeout has passed: a limited number of trial calls test whether the service recovered.</summary>
    HalfOpen = 2,
}
