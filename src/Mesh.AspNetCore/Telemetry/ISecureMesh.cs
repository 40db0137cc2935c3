namespace Mesh.AspNetCore;

/// <summary>
/// The mesh as seen from inside the application, registered by <c>AddSecureMesh()</c> as a singleton.
/// </summary>
public interface ISecureMesh
{
    /// <summary>
    /// Takes a snapshot of what the mesh recorded since the application started: calls made through mesh clients,
    /// their failures, retries and latency, each service's circuit breaker state, and the inbound rate limiter's decisions.
    /// </summary>
    /// <returns>A new snapshot; later calls are not reflected in it.</returns>
    MeshStats GetStats();
}
