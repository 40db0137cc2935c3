using Mesh.AspNetCore.Resilience.Internal;

namespace Mesh.AspNetCore.Discovery.Internal;

internal sealed class MeshClient<TClient>(TClient client, string serviceId, CircuitBreakerRegistry breakers) : IMeshClient<TClient>
    where TClient : class
{
    public string ServiceId { get; } = serviceId;

    public TClient Client { get; } = client;

    public CircuitState CircuitState => breakers.GetState(ServiceId);
}
