using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Grpc.Net.Client.Balancer;
using Grpc.Net.ClientFactory;
using Mesh.AspNetCore;
using Mesh.AspNetCore.Discovery.Internal;
using Mesh.AspNetCore.Identity.Internal;
using Mesh.AspNetCore.Resilience.Internal;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers typed gRPC clients of discovered services on the builder returned by <c>AddSecureMesh</c>.
/// </summary>
public static partial class SecureMeshBuilderExtensions
{
    /// <summary>
    /// Registers <typeparamref name="TClient"/> as a typed gRPC client (Grpc.Net.ClientFactory) of the service
    /// <paramref name="serviceId"/>, addressed through <c>Mesh:Discovery:Services</c>. Every call carries
    /// <c>x-mesh-service-id</c> and goes through retry with exponential backoff wrapping the service's circuit breaker.
    /// Inject <see cref="IMeshClient{TClient}"/> (with the breaker's state) or <typeparamref name="TClient"/> itself.
    /// </summary>
    /// <typeparam name="TClient">The generated gRPC client type, such as <c>Inventory.InventoryClient</c>.</typeparam>
    /// <param name="builder">The mesh builder.</param>
    /// <param name="serviceId">The id of the target service in <c>Mesh:Discovery:Services</c>. An id that discovery does not list fails at startup.</param>
    /// <returns>The same builder, to register further clients.</returns>
    /// <exception cref="InvalidOperationException"><typeparamref name="TClient"/> is already registered for another service id.</exception>
    /// <remarks>Calling it again with the same client type and service id registers nothing twice.</remarks>
    public static ISecureMeshBuilder AddClient<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TClient>(this ISecureMeshBuilder builder, string serviceId)
        where TClient : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceId);
        var services = builder.Services;

        var existing = services
            .Where(d => d.ServiceType == typeof(MeshClientRegistration) && d.ImplementationInstance is MeshClientRegistration)
            .Select(d => (MeshClientRegistration)d.ImplementationInstance!)
            .ToList();
        // Service ids compare ordinal case-insensitively everywhere (configuration keys do too): a service keeps the
        // spelling of its first registration, so its pipeline, breaker and stats are one whatever case later calls use.
        serviceId = existing.FirstOrDefault(r => string.Equals(r.ServiceId, serviceId, StringComparison.OrdinalIgnoreCase))?.ServiceId ?? serviceId;
        if (existing.FirstOrDefault(r => r.ClientType == typeof(TClient)) is { } registered)
        {
            if (string.Equals(registered.ServiceId, serviceId, StringComparison.OrdinalIgnoreCase))
            {
                return builder;
            }

            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"AddClient<{typeof(TClient).Name}> is already registered for service '{registered.ServiceId}'; a client type can call one service, so '{serviceId}' needs its own client type."));
        }

        var registration = new MeshClientRegistration(typeof(TClient), serviceId);
        services.AddSingleton(registration);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SecureMeshOptions>, MeshClientDiscoveryValidator>());
        services.TryAddSingleton<MeshMetrics>();
        services.TryAddSingleton<CircuitBreakerRegistry>();
        services.TryAddSingleton<ICircuitStateReader>(static sp => sp.GetRequiredService<CircuitBreakerRegistry>());
        services.TryAddSingleton<RetryBudgetRegistry>();
        services.TryAddSingleton<DeclaredIdempotency>();
        services.TryAddSingleton<MeshClientLifetime>();
        if (!existing.Any(r => string.Equals(r.ServiceId, serviceId, StringComparison.OrdinalIgnoreCase)))
        {
            MeshResiliencePipelines.Add(services, serviceId);
        }

        services.TryAddSingleton<EndpointMetrics>();
        services.TryAddSingleton<EndpointRegistry>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ResolverFactory, MeshResolverFactory>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<LoadBalancerFactory, MeshLoadBalancerFactory>());
        services
            .AddGrpcClient<TClient>(options => options.Address = MeshChannel.AddressOf(serviceId))
            .ConfigureChannel((provider, channel) => MeshChannel.Configure(provider, serviceId, channel))
            .UseSocketsHttpHandler((handler, provider) =>
            {
                // As grpc-dotnet's own handler: more than one HTTP/2 connection when a connection's streams run out.
                handler.EnableMultipleHttp2Connections = true;
                MeshClientTls.Configure(handler, provider, serviceId);
            })
            // IHttpClientFactory's two Information lines per HTTP request say nothing about a gRPC call (whose failures
            // arrive as HTTP 200); the mesh logs failed attempts and calls itself.
            .RemoveAllLoggers()
            .AddHttpMessageHandler(static provider => new EndpointOutcomeHandler(provider.GetRequiredService<EndpointRegistry>()))
            .AddInterceptor(static provider => new ServiceIdHeaderInterceptor(provider.GetRequiredService<IOptionsMonitor<SecureMeshOptions>>()))
            .AddInterceptor(provider => new ResilienceInterceptor(
                serviceId,
                MeshResiliencePipelines.Get(provider, serviceId),
                provider.GetRequiredService<MeshMetrics>(),
                provider.GetRequiredService<TimeProvider>(),
                provider.GetRequiredService<RetryBudgetRegistry>().Get(serviceId),
                provider.GetRequiredService<ILogger<ResilienceInterceptor>>(),
                provider.GetRequiredService<IOptionsMonitor<SecureMeshOptions>>(),
                provider.GetRequiredService<MeshClientLifetime>()));
        services.TryAddTransient<IMeshClient<TClient>>(provider => new MeshClient<TClient>(
            provider.GetRequiredService<TClient>(), serviceId, provider.GetRequiredService<CircuitBreakerRegistry>()));
        return builder;
    }
}
