using System.Net;
using Mesh.AspNetCore.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Tests.Configuration;

public sealed class MeshServiceCollectionExtensionsTests
{
    [Fact]
    public void AddSecureMesh_CalledTwice_RegistersNothingTwice()
    {
        var once = new ServiceCollection();
        once.AddSecureMesh();
        var twice = new ServiceCollection();
        twice.AddSecureMesh();
        twice.AddSecureMesh();

        Assert.Equal(once.Count, twice.Count);
    }

    [Fact]
    public void AddSecureMesh_SameSectionTwice_BindsItOnce()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Orders:ServiceId"] = "o", ["Orders:Discovery:Services:0:Id"] = "a", ["Orders:Discovery:Services:0:Host"] = "h", ["Orders:Discovery:Services:0:Port"] = "1" })
            .Build();
        var services = new ServiceCollection().AddLogging();
        services.AddSecureMesh(configuration.GetSection("Orders"));
        services.AddSecureMesh(configuration.GetSection("Orders"));
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<SecureMeshOptions>>().Value;

        Assert.Single(options.Discovery.Services);
    }

    [Fact]
    public void AddSecureMesh_ReturnsBuilderOverTheSameServices()
    {
        var services = new ServiceCollection();

        var builder = services.AddSecureMesh(o => o.ServiceId = "s");

        Assert.Same(services, builder.Services);
    }

    [Fact]
    public void AddSecureMesh_ConfigureInCode_RunsAfterConfigurationBinding()
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Mesh:ServiceId"] = "from-config", ["Mesh:Resilience:Retry:MaxAttempts"] = "4" })
            .Build();
        var services = new ServiceCollection().AddSingleton<Microsoft.Extensions.Configuration.IConfiguration>(configuration).AddLogging();
        services.AddSecureMesh();
        services.AddSecureMesh(o => o.Resilience.Retry.MaxAttempts = 7);
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<SecureMeshOptions>>().Value;

        Assert.Equal(("from-config", 7), (options.ServiceId, options.Resilience.Retry.MaxAttempts));
    }

    [Fact]
    public async Task MeshPort_Set_ServiceListensForHttp2WithoutKestrelCode()
    {
        var port = FreePort.Next();
        var app = MeshTestHost.Build(
            $$"""{ "Mesh": { "ServiceId": "svc", "Port": {{port}}, "ListenAddress": "127.0.0.1" } }""",
            b => b.Services.AddSecureMesh(),
            listen: false);
        app.MapGet("/ping", (HttpContext context) => context.Request.Protocol);
        await app.StartAsync(TestContext.Current.CancellationToken);
        try
        {
            using var client = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };

            var protocol = await client.GetStringAsync(new Uri($"http://127.0.0.1:{port}/ping"), TestContext.Current.CancellationToken);

            Assert.Equal("HTTP/2", protocol);
        }
        finally
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
        }
    }
}
