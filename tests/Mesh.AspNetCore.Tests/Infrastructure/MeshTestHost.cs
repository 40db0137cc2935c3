using System.Net;
using System.Text;
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

namespace Mesh.AspNetCore.Tests.Infrastructure;

/// <summary>
/// A real ASP.NET Core application on Kestrel, listening on 127.0.0.1 over HTTP/2 cleartext on a free port.
/// </summary>
public sealed class MeshTestHost : IAsyncDisposable
{
    private MeshTestHost(WebApplication app)
    {
        App = app;
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        Address = new Uri(address);
    }

    public WebApplication App { get; }

    public IServiceProvider Services => App.Services;

    public Uri Address { get; }

    public int Port => Address.Port;

    /// <summary>What the application logged.</summary>
    public TestLoggerProvider Logs => Services.GetRequiredService<TestLoggerProvider>();

    /// <summary>Starts an application with the given JSON configuration (the whole appsettings document).</summary>
    /// <param name="json">An appsettings.json document, or null for none.</param>
    /// <param name="configureServices">Registers services, typically <c>AddSecureMesh()</c> and <c>AddGrpc()</c>.</param>
    /// <param name="configureApp">Maps endpoints.</param>
    /// <param name="port">A fixed port, or 0 for a free one.</param>
    public static async Task<MeshTestHost> StartAsync(
        string? json,
        Action<WebApplicationBuilder> configureServices,
        Action<WebApplication> configureApp,
        int port = 0,
        bool listen = true)
    {
        var app = Build(json, configureServices, port, listen);
        configureApp(app);
        await app.StartAsync(TestContext.Current.CancellationToken);
        return new MeshTestHost(app);
    }

    /// <summary>Builds an application without starting it, listening on 127.0.0.1 unless the mesh's own port is configured.</summary>
    public static WebApplication Build(string? json, Action<WebApplicationBuilder> configureServices, int port = 0, bool listen = true)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        var logs = new TestLoggerProvider();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.Services.AddSingleton(logs);
        builder.Configuration.Sources.Clear();
        if (json is not null)
        {
            // Held in memory rather than as a JSON stream so that tests can reload the configuration.
            var parsed = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
            builder.Configuration.AddInMemoryCollection(parsed.AsEnumerable().Where(pair => pair.Value is not null));
        }

        if (listen)
        {
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, l => l.Protocols = HttpProtocols.Http2));
        }

        configureServices(builder);
        return builder.Build();
    }

    /// <summary>A channel to this host over HTTP/2 cleartext.</summary>
    public GrpcChannel CreateChannel() => GrpcChannel.ForAddress(Address);

    /// <summary>An HttpClient that speaks HTTP/2 cleartext to this host.</summary>
    public HttpClient CreateHttpClient() => new()
    {
        BaseAddress = Address,
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync(CancellationToken.None);
        await App.DisposeAsync();
    }
}
