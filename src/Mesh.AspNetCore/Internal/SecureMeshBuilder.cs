using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Internal;

internal sealed class SecureMeshBuilder(IServiceCollection services) : ISecureMeshBuilder
{
    public IServiceCollection Services { get; } = services;
}
