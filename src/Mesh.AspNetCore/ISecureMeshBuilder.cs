using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore;

/// <summary>
/// Returned by <c>AddSecureMesh</c> to register mesh clients and further mesh services.
/// </summary>
public interface ISecureMeshBuilder
{
    /// <summary>Gets the service collection the mesh is registered in.</summary>
    IServiceCollection Services { get; }
}
