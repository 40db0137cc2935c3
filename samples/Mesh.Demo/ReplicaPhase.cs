using System.Diagnostics;
using System.Globalization;
using System.Net;
using Mesh.AspNetCore;
using Mesh.Samples;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Demo;

/// <summary>What the replica phase saw: the bad replica ejected while orders kept succeeding, the breaker closed.</summary>
public sealed record ReplicaPhaseResult(bool BadReplicaEjected, long OrdersAccepted, long OrdersRejected, bool BreakerStayedClosed)
{
    public bool Passed => BadReplicaEjected && OrdersAccepted > 0 && OrdersRejected == 0 && BreakerStayedClosed;
}

/// <summary>
/// The demo's last phase: inventory-service runs as three replicas behind one discovery entry (<c>Endpoints</c>), and
/// one of them goes bad. Outlier detection ejects it after <c>ConsecutiveFailures</c> failed attempts; the retries of
/// the calls it failed go to the other replicas, so every order succeeds and the service's breaker stays closed.
/// </summary>
internal static class ReplicaPhase
{
    private const string Inventory = "inventory-service";
    private const int ConsecutiveFailures = 3;

    public static async Task<ReplicaPhaseResult> RunAsync(
        TimeSpan length, bool quiet, TextWriter output, Stopwatch clock, CancellationToken cancellationToken)
    {
        var ports = new[] { FreePort(), FreePort(), FreePort() };
        var paymentPort = FreePort();
        var replicas = new List<WebApplication>();
        try
        {
            // A payment service of its own, without the earlier phases' spent rate-limit quota.
            replicas.Add(await DemoRunner.StartAsync(PaymentService.PaymentServiceApp.Build, typeof(PaymentService.PaymentServiceApp), paymentPort,
                ["--Mesh:Resilience:RateLimit:Enabled=false"]));
            foreach (var port in ports)
            {
                replicas.Add(await DemoRunner.StartAsync(InventoryService.InventoryServiceApp.Build, typeof(InventoryService.InventoryServiceApp), port, []));
            }

            var orderPort = FreePort();
            string[] discovery =
            [
                // The appsettings entry's Host and Port are cleared: Endpoints lists the replicas instead.
                "--Mesh:Discovery:Services:0:Host=", "--Mesh:Discovery:Services:0:Port=0",
                .. ports.SelectMany((p, i) => new[] { $"--Mesh:Discovery:Services:0:Endpoints:{i}:Host=127.0.0.1", $"--Mesh:Discovery:Services:0:Endpoints:{i}:Port={p}" }),
                "--Mesh:Discovery:Services:1:Host=127.0.0.1", $"--Mesh:Discovery:Services:1:Port={paymentPort}",
                "--Mesh:Resilience:Retry:InitialDelay=50",
                $"--Mesh:Resilience:OutlierDetection:ConsecutiveFailures={ConsecutiveFailures}",
                string.Create(CultureInfo.InvariantCulture, $"--Mesh:Resilience:OutlierDetection:BaseEjectionTime={(int)(length.TotalMilliseconds * 2)}"),
            ];
            await using var order = await DemoRunner.StartAsync(OrderService.OrderServiceApp.Build, typeof(OrderService.OrderServiceApp), orderPort, discovery);
            var mesh = order.Services.GetRequiredService<ISecureMesh>();
            using var channel = Grpc.Net.Client.GrpcChannel.ForAddress($"http://127.0.0.1:{orderPort}");
            var orders = new Orders.OrdersClient(channel);

            output.WriteLine($"         inventory-service replicas 127.0.0.1:{ports[0]}, :{ports[1]}, :{ports[2]} behind one order-service (Endpoints);");
            output.WriteLine($"         replica :{ports[2]} goes down; outlier detection ejects it after {ConsecutiveFailures} consecutive failures");
            using (var http = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact })
            using (var response = await http.PostAsync(new Uri($"http://127.0.0.1:{ports[2]}/control/fault/down"), null, cancellationToken))
            {
                response.EnsureSuccessStatusCode();
            }

            long accepted = 0, rejected = 0;
            var phaseClock = Stopwatch.StartNew();
            var nextTable = TimeSpan.FromSeconds(1);
            var wasEjected = false;
            while (phaseClock.Elapsed < length && !cancellationToken.IsCancellationRequested)
            {
                // Four orders at once, as independent users would place them.
                var batch = Enumerable.Range(0, 4).Select(_ => PlaceAsync(orders)).ToArray();
                foreach (var ok in await Task.WhenAll(batch))
                {
                    _ = ok ? accepted++ : rejected++;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);

                var endpoints = mesh.GetStats().Services[Inventory].Endpoints ?? [];
                if (!wasEjected && endpoints.Any(e => e.State == "ejected"))
                {
                    wasEjected = true;
                    var ejected = endpoints.First(e => e.State == "ejected");
                    output.WriteLine($"[{clock.Elapsed.TotalSeconds,5:0.0}s] >>> {Inventory} endpoint {ejected.Address} ejected after {ejected.Failures} failed attempts");
                }

                if (!quiet && phaseClock.Elapsed >= nextTable)
                {
                    nextTable += TimeSpan.FromSeconds(1);
                    WriteEndpoints(output, clock, accepted, rejected, endpoints);
                }
            }

            var stats = mesh.GetStats().Services[Inventory];
            WriteEndpoints(output, clock, accepted, rejected, stats.Endpoints ?? []);
            var badEjected = stats.Endpoints?.Any(e => e.Address.EndsWith($":{ports[2]}", StringComparison.Ordinal) && e.State == "ejected") ?? false;
            return new ReplicaPhaseResult(badEjected, accepted, rejected, stats.CircuitBreakerState == CircuitState.Closed);
        }
        finally
        {
            foreach (var replica in replicas)
            {
                await replica.DisposeAsync();
            }
        }
    }

    private static void WriteEndpoints(TextWriter output, Stopwatch clock, long accepted, long rejected, IReadOnlyList<EndpointStats> endpoints)
    {
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{clock.Elapsed.TotalSeconds,5:0.0}s] orders accepted {accepted}, rejected {rejected}"));
        output.WriteLine("         inventory endpoint    state              calls  failures");
        foreach (var e in endpoints)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"         {e.Address,-21} {e.State,-17} {e.Calls,6} {e.Failures,9}"));
        }
    }

    private static async Task<bool> PlaceAsync(Orders.OrdersClient orders)
    {
        try
        {
            var reply = await orders.PlaceAsync(new OrderRequest { Sku = "book-42", Quantity = 1, AmountCents = 1999 }, deadline: DateTime.UtcNow.AddSeconds(10));
            return reply.Accepted;
        }
        catch (Grpc.Core.RpcException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
