using System.Net;
using Mesh.AspNetCore.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Telemetry;

/// <summary>
/// A real application on Kestrel at 127.0.0.1 on a free port, speaking HTTP/1.1 as a browser does (and HTTP/2 with TLS
/// only, so plain clients use HTTP/1.1 too), with the mesh's services and whatever the test maps.
/// </summary>
public sealed class DashboardHost : IAsyncDisposable
{
    private DashboardHost(WebApplication app)
    {
        App = app;
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        Address = new Uri(address);
    }

    public WebApplication App { get; }

    public IServiceProvider Services => App.Services;

    public Uri Address { get; }

    public static async Task<DashboardHost> StartAsync(string json, Action<WebApplicationBuilder> configureServices, Action<WebApplication> configureApp)
    {
        var app = MeshTestHost.Build(
            json,
            b =>
            {
                b.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http1AndHttp2));
                configureServices(b);
            },
            listen: false);
        configureApp(app);
        await app.StartAsync(TestContext.Current.CancellationToken);
        return new DashboardHost(app);
    }

    public HttpClient CreateHttpClient() => new() { BaseAddress = Address };

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync(CancellationToken.None);
        await App.DisposeAsync();
    }
}
