using System.Net;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Benchmarks.Infrastructure;

/// <summary>
/// An in-process Kestrel server on 127.0.0.1 (a free port), HTTP/2 cleartext, hosting <see cref="BenchService"/>.
/// Logging is off so that the measurements do not include console output.
/// </summary>
internal sealed class BenchmarkServer : IDisposable
{
    private readonly WebApplication _app;

    private BenchmarkServer(WebApplication app)
    {
        _app = app;
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        Address = new Uri(address);
    }

    public Uri Address { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Starts a server; <paramref name="configuration"/> is its flat configuration (<c>Mesh:...</c> keys).</summary>
    /// <param name="configuration">Configuration keys and values, or null for none.</param>
    /// <param name="configureServices">Registers more services, typically <c>AddSecureMesh()</c>.</param>
    /// <param name="configureApp">Adds middleware and maps more endpoints, before the benchmark service is mapped.</param>
    public static BenchmarkServer Start(
        IEnumerable<KeyValuePair<string, string?>>? configuration = null,
        Action<IServiceCollection>? configureServices = null,
        Action<WebApplication>? configureApp = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.Logging.ClearProviders();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(configuration ?? []);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        configureServices?.Invoke(builder.Services);

        var app = builder.Build();
        configureApp?.Invoke(app);
        app.MapGrpcService<BenchService>();
        app.StartAsync().GetAwaiter().GetResult();
        return new BenchmarkServer(app);
    }

    /// <summary>A plain channel to this server over HTTP/2 cleartext: the raw typed client's transport.</summary>
    public GrpcChannel CreateChannel() => GrpcChannel.ForAddress(Address);

    public void Dispose()
    {
        _app.StopAsync().GetAwaiter().GetResult();
        _app.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
