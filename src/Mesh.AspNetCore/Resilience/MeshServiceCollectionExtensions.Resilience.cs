namespace Microsoft.Extensions.DependencyInjection;

public static partial class MeshServiceCollectionExtensions
{
    private static void AddResilience(IServiceCollection services)
    {
        // Registers the per-service circuit breakers and the client call pipeline.
    }
}
