using Grpc.Core.Interceptors;
using Grpc.Net.ClientFactory;
using Mesh.AspNetCore.Benchmarks.Protos;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Benchmarks.Infrastructure;

/// <summary>
/// A started host of a calling service, with <c>AddSecureMesh().AddClient&lt;Bench.BenchClient&gt;("bench-service")</c>
/// as an application writes it.
/// </summary>
internal sealed class MeshClientHost : IDisposable
{
    private readonly IHost _host;

    private MeshClientHost(IHost host) => _host = host;

    public IServiceProvider Services => _host.Services;

    /// <summary>The mesh client, as a handler would inject it.</summary>
    public IMeshClient<Bench.BenchClient> Client => Services.GetRequiredService<IMeshClient<Bench.BenchClient>>();

    /// <summary>
    /// Starts the host; <paramref name="logging"/> configures its logging (by default it has no provider),
    /// <paramref name="configureServices"/> registers more services after <c>AddClient</c>.
    /// </summary>
    public static MeshClientHost Start(
        IEnumerable<KeyValuePair<string, string?>> configuration, Action<ILoggingBuilder>? logging = null, Action<IServiceCollection>? configureServices = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(configuration);
        logging?.Invoke(builder.Logging);
        builder.Services.AddSecureMesh().AddClient<Bench.BenchClient>(MeshConfiguration.BenchServiceId);
        configureServices?.Invoke(builder.Services);
        var host = builder.Build();
        host.Start();
        return new MeshClientHost(host);
    }

    /// <summary>The interceptors that <c>AddClient</c> registered on the typed client, outermost first, created as the client factory creates them.</summary>
    public Interceptor[] CreateClientInterceptors() =>
        [.. Services.GetRequiredService<IOptionsMonitor<GrpcClientFactoryOptions>>()
            .Get(nameof(Bench.BenchClient))
            .InterceptorRegistrations
            .Select(registration => registration.Creator(Services))];

    public void Dispose() => _host.Dispose();
}
