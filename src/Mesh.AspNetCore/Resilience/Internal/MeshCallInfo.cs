using Polly;

namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>
/// What the retry strategy needs to know about the logical call it runs, carried in the Polly context. A unary call
/// puts itself there only when an attempt failed, the first moment the retry strategy reads it.
/// </summary>
internal abstract class MeshCallInfo
{
    public static readonly ResiliencePropertyKey<MeshCallInfo> Key = new("Mesh.Call");

    /// <summary>The full gRPC method name, such as <c>/inventory.Inventory/Reserve</c>.</summary>
    public abstract string Method { get; }

    /// <summary>The call's deadline (UTC), or <see langword="null"/> when it has none.</summary>
    public abstract DateTime? Deadline { get; }

    /// <summary>Whether another attempt may still be made: false once the caller has seen a response message or disposed the call.</summary>
    public abstract bool CanRetry { get; }

    /// <summary>The attempts started on the channel so far; a rejection by the circuit breaker is not one.</summary>
    public int Attempts { get; protected set; }

    /// <summary>The call's request message, for a call that has one (unary and server streaming); otherwise <see langword="null"/>.</summary>
    public virtual object? Request => null;

    /// <summary>Cancelled when the caller disposes the call, so that a backoff before its next attempt ends then; by default never.</summary>
    public virtual CancellationToken Disposal => CancellationToken.None;

    /// <summary>A call option's deadline as the retry strategy reads it: UTC, <see langword="null"/> for none.</summary>
    protected static DateTime? UtcDeadline(DateTime? deadline) =>
        deadline is { } d && d != DateTime.MaxValue ? d.ToUniversalTime() : null;
}
