namespace Mesh.AspNetCore;

/// <summary>
/// A typed gRPC client of one discovered service, registered with <c>AddClient&lt;TClient&gt;(serviceId)</c>.
/// Calls made through <see cref="Client"/> carry <c>x-mesh-service-id</c> and go through the retry policy and the
/// service's circuit breaker.
/// </summary>
/// <typeparam name="TClient">The generated gRPC client type, such as <c>Inventory.InventoryClient</c>.</typeparam>
public interface IMeshClient<TClient>
    where TClient : class
{
    /// <summary>Gets the id of the target service, as listed in <c>Mesh:Discovery:Services</c>.</summary>
    string ServiceId { get; }

    /// <summary>Gets the typed gRPC client; every call through it is resilient.</summary>
    TClient Client { get; }

    /// <summary>Gets the current state of the target service's circuit breaker.</summary>
    /// <value><see cref="CircuitState.HalfOpen"/> as soon as the open timeout has elapsed.</value>
    CircuitState CircuitState { get; }
}
