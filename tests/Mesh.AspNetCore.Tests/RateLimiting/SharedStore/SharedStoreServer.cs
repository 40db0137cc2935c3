using System.Net.Sockets;
using Garnet;
using Mesh.AspNetCore.Tests.Infrastructure;

namespace Mesh.AspNetCore.Tests.RateLimiting.SharedStore;

/// <summary>
/// The Redis-compatible store the replicas of a test share: an embedded Garnet server on a free loopback port (always),
/// or the server named by <c>MESH_TEST_REDIS</c> (when set). Each test gets its own key prefix, so tests sharing an
/// external server never count in each other's keys.
/// </summary>
public sealed class SharedStoreServer : IDisposable
{
    public const string Garnet = "garnet";
    public const string Redis = "redis";
    public const string EnvironmentVariable = "MESH_TEST_REDIS";

    private GarnetServer? _garnet;

    private SharedStoreServer(string kind, string configuration, int port)
    {
        Kind = kind;
        Configuration = configuration;
        Port = port;
        KeyPrefix = $"test-{Guid.NewGuid():N}:";
    }

    /// <summary>The stores every shared-store test runs against: Garnet, and the external server when configured.</summary>
    public static TheoryData<string> Kinds
    {
        get
        {
            var kinds = new TheoryData<string> { Garnet };
            if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(EnvironmentVariable)))
            {
                kinds.Add(Redis);
            }

            return kinds;
        }
    }

    public string Kind { get; }

    /// <summary>The StackExchange.Redis configuration string of the store.</summary>
    public string Configuration { get; }

    public int Port { get; }

    /// <summary>A key prefix no other test uses.</summary>
    public string KeyPrefix { get; }

    public static SharedStoreServer Start(string kind)
    {
        if (kind == Redis)
        {
            var configuration = Environment.GetEnvironmentVariable(EnvironmentVariable)
                ?? throw new InvalidOperationException($"{EnvironmentVariable} is not set.");
            return new SharedStoreServer(kind, configuration, port: 0);
        }

        var port = FreePort.Next();
        var server = new SharedStoreServer(kind, $"127.0.0.1:{port}", port);
        server.StartGarnet();
        return server;
    }

    /// <summary>Stops the embedded server, closing every connection to it: the store is down.</summary>
    public void Kill()
    {
        EnsureGarnet();
        _garnet?.Dispose();
        _garnet = null;
    }

    /// <summary>Starts the embedded server again on the same port, empty (a restarted store has lost its counts and scripts).</summary>
    public void Restart()
    {
        EnsureGarnet();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                StartGarnet();
                return;
            }
            catch (Exception ex) when (attempt < 20 && ex is SocketException or IOException or InvalidOperationException)
            {
                // The port is still being released by the stopped server.
                Thread.Yield();
            }
        }
    }

    /// <summary>
    /// A document for the replicas of a test: <c>Mesh</c> with the store's <c>Redis</c> section and the given rate limit.
    /// The timeout is long by default, so that a busy test machine does not turn a slow answer into an outage.
    /// </summary>
    public string Json(string serviceId, string rateLimitJson, int timeoutMs = 3_000) =>
        $$"""
        {
          "Mesh": {
            "ServiceId": "{{serviceId}}",
            "Redis": { "Configuration": "{{Configuration}}", "KeyPrefix": "{{KeyPrefix}}", "TimeoutMs": {{timeoutMs}} },
            "Resilience": { "RateLimit": {{rateLimitJson}} }
          }
        }
        """;

    public void Dispose()
    {
        _garnet?.Dispose();
        _garnet = null;
    }

    private void StartGarnet()
    {
        var garnet = new GarnetServer(["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--lua", "--memory", "64m", "--index", "16m"]);
        try
        {
            garnet.Start();
        }
        catch
        {
            garnet.Dispose();
            throw;
        }

        _garnet = garnet;
    }

    private void EnsureGarnet()
    {
        if (Kind != Garnet)
        {
            throw new InvalidOperationException("Only the embedded Garnet server can be stopped and started by a test.");
        }
    }
}
