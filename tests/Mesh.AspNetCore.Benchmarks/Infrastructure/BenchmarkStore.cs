using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Garnet;

namespace Mesh.AspNetCore.Benchmarks.Infrastructure;

/// <summary>
/// The Redis-compatible store of the shared-store benchmarks: the server named by <c>MESH_TEST_REDIS</c> when set
/// (for example the redis-server started by <c>.ci/redis.sh</c>), else an embedded Garnet server on a free loopback port.
/// </summary>
internal sealed class BenchmarkStore : IDisposable
{
    private readonly GarnetServer? _garnet;

    private BenchmarkStore(string name, string configuration, GarnetServer? garnet)
    {
        Name = name;
        Configuration = configuration;
        _garnet = garnet;
    }

    public string Name { get; }

    public string Configuration { get; }

    public static BenchmarkStore Start()
    {
        var external = Environment.GetEnvironmentVariable("MESH_TEST_REDIS");
        if (!string.IsNullOrWhiteSpace(external))
        {
            return new BenchmarkStore("redis-server", external, null);
        }

        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        var garnet = new GarnetServer(["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--lua", "--memory", "256m", "--index", "64m"]);
        garnet.Start();
        return new BenchmarkStore("garnet", $"127.0.0.1:{port}", garnet);
    }

    /// <summary>The flat configuration of a service that limits on this store, each partition to <paramref name="maxRequests"/> a day.</summary>
    public Dictionary<string, string?> RateLimited(int maxRequests, string keyPrefix)
    {
        var configuration = MeshConfiguration.RateLimited(maxRequests);
        configuration["Mesh:Resilience:RateLimit:Store"] = "Redis";
        configuration["Mesh:Redis:Configuration"] = Configuration;
        configuration["Mesh:Redis:KeyPrefix"] = keyPrefix;
        configuration["Mesh:Redis:TimeoutMs"] = "5000";
        return configuration;
    }

    public void Dispose() => _garnet?.Dispose();
}
