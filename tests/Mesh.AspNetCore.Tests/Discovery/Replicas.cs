using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using System.Globalization;
using Mesh.AspNetCore.Tests.Infrastructure;
using Mesh.AspNetCore.Tests.Resilience;

namespace Mesh.AspNetCore.Tests.Discovery;

/// <summary>Several replicas of the Echo service, each a real Kestrel server on 127.0.0.1 with its own script.</summary>
public sealed class Replicas : IAsyncDisposable
{
    private readonly MeshTestHost?[] _hosts;

    private Replicas(MeshTestHost[] hosts, EchoScript[] scripts, int[] ports)
    {
        _hosts = hosts;
        Scripts = scripts;
        Ports = ports;
    }

    public EchoScript[] Scripts { get; }

    public int[] Ports { get; }

    public static async Task<Replicas> StartAsync(int count)
    {
        var scripts = Enumerable.Range(0, count).Select(_ => new EchoScript()).ToArray();
        var hosts = new MeshTestHost[count];
        for (var i = 0; i < count; i++)
        {
            hosts[i] = await EchoServer.StartAsync(scripts[i]);
        }

        return new Replicas(hosts, scripts, [.. hosts.Select(h => h.Port)]);
    }

    public int[] Calls => [.. Scripts.Select(s => s.Calls)];

    public string Address(int replica) => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{Ports[replica]}");

    /// <summary>The JSON of an <c>Endpoints</c> list with the given replicas.</summary>
    public string Endpoints(params int[] replicas) =>
        "[" + string.Join(", ", replicas.Select(r => string.Create(CultureInfo.InvariantCulture, $$"""{ "Host": "127.0.0.1", "Port": {{Ports[r]}} }"""))) + "]";

    /// <summary>A whole appsettings document listing inventory-service with <paramref name="endpoints"/>.</summary>
    public static string Config(string endpoints, string resilience = "{}") => $$"""
        {
          "Mesh": {
            "ServiceId": "order-service",
            "Resilience": {{resilience}},
            "Discovery": { "Services": [ { "Id": "inventory-service", "Endpoints": {{endpoints}} } ] }
          }
        }
        """;

    /// <summary>Stops a replica: its port refuses connections until <see cref="RestartAsync"/>.</summary>
    public async Task StopAsync(int replica)
    {
        if (_hosts[replica] is { } host)
        {
            _hosts[replica] = null;
            await host.DisposeAsync();
        }
    }

    /// <summary>Starts a stopped replica again on its port, with a new script.</summary>
    public async Task RestartAsync(int replica)
    {
        Scripts[replica] = new EchoScript();
        _hosts[replica] = await MeshTestHost.StartAsync(
            null,
            b =>
            {
                b.Services.AddGrpc();
                b.Services.AddSingleton(Scripts[replica]);
            },
            app => app.MapGrpcService<ScriptedEcho>(),
            Ports[replica]);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            if (host is not null)
            {
                await host.DisposeAsync();
            }
        }
    }
}
