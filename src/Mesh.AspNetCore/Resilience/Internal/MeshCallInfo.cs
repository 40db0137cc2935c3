using Polly;

namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>What the retry strategy needs to know about the logical call it runs, carried in the Polly context.</summary>
internal abstract class MeshCallInfo(string method, DateTime? deadline)
{
    public static readonly ResiliencePropertyKey<MeshCallInfo> Key = new("Mesh.Call");

    /// <summary>The full gRPC method name, such as <c>/inventory.Inventory/Reserve</c>.</summary>
    public string Method { get; } = method;

    /// <summary>The call's deadline (UTC), or <see langword="null"/> when it has none.</summary>
    public DateTime? Deadline { get; } = deadline is { } d && d != DateTime.MaxValue ? d.ToUniversalTime() : null;

    /// <summary>Whether another attempt may still be made: false once the caller has seen a response message or disposed the call.</summary>
    public abstract bool CanRetry { get; }
}
