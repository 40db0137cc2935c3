using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Telemetry;

/// <summary>A service provider built with <c>AddSecureMesh</c>, as an application's would be.</summary>
internal static class TelemetryTestServices
{
    public const string ServiceId = "order-service";

    public static ServiceProvider Build(Action<IServiceCollection>? configure = null, ICircuitStateReader? reader = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddLogging();
        services.AddSecureMesh(o => o.ServiceId = ServiceId);
        if (reader is not null)
        {
            services.AddSingleton(reader);
        }

        configure?.Invoke(services);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
    }
}

/// <summary>
/// Tests that listen to the <c>Mesh.AspNetCore</c> meter by name (OpenTelemetry does, for every meter of that name in
/// the process) or need nobody listening: they run alone, so no other test's measurements mix with theirs.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MeshMeterByNameCollection
{
    public const string Name = "Mesh.AspNetCore meter listened to by name";
}
