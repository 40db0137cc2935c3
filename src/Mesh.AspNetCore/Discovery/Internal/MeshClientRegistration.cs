namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>One <c>AddClient&lt;TClient&gt;(serviceId)</c> call, kept in DI for validation and the breaker registry.</summary>
internal sealed record MeshClientRegistration(Type ClientType, string ServiceId)
{
    public string ClientName => ClientType.Name;
}
