using Mesh.AspNetCore.Resilience.Internal;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

public static partial class MeshServiceCollectionExtensions
{
    private static void AddResilience(IServiceCollection services)
    {
        // The per-service circuit breakers outlive the call pipelines, which are rebuilt when the configuration reloads.
        services.TryAddSingleton<MeshMetrics>();
        services.TryAddSingleton<CircuitBreakerRegistry>();
        services.TryAddSingleton<ICircuitStateReader>(static sp => sp.GetRequiredService<CircuitBreakerRegistry>());

        // The per-service retry budgets outlive them too; the declared idempotency is read once from the clients' protos.
        services.TryAddSingleton<RetryBudgetRegistry>();
        services.TryAddSingleton<DeclaredIdempotency>();
    }
}
