namespace Mesh.AspNetCore.Telemetry.Internal;

/// <summary>The words for <see cref="CircuitState"/> in JSON and metric tags, as the original SecureMesh documentation writes them.</summary>
internal static class CircuitStateNames
{
    public const string Closed = "closed";
    public const string Open = "open";
    public const string HalfOpen = "half_open";

    public static string Of(CircuitState state) => state switch
    {
        CircuitState.Closed => Closed,
        CircuitState.Open => Open,
        CircuitState.HalfOpen => HalfOpen,
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "Unknown circuit state."),
    };

    /// <summary>How bad a state is: 0 closed, 1 half-open, 2 open. Also the value of the <c>mesh.circuit_breaker.state</c> gauge.</summary>
    public static int Severity(CircuitState state) => state switch
    {
        CircuitState.Open => 2,
        CircuitState.HalfOpen => 1,
        _ => 0,
    };

    /// <summary>The worse of two states: open, then half-open, then closed.</summary>
    public static CircuitState Worst(CircuitState a, CircuitState b) => Severity(b) > Severity(a) ? b : a;
}
