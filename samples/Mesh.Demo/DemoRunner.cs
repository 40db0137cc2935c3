using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.AspNetCore;
using Mesh.Samples;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Demo;

/// <summary>What the demo saw happen.</summary>
public sealed record DemoResult(
    bool RetrySucceeded,
    bool CircuitOpened,
    bool HalfOpenTrial,
    bool CircuitClosed,
    bool RateLimitRejected,
    bool BackedOffAndSucceeded,
    long OrdersAccepted,
    long OrdersRejected)
{
    public bool AllPatternsSeen =>
        RetrySucceeded && CircuitOpened && HalfOpenTrial && CircuitClosed && RateLimitRejected && BackedOffAndSucceeded
        && (Replicas?.Passed ?? true);

    /// <summary>The phase where one of three inventory replicas goes bad and is ejected; null when it did not run.</summary>
    public ReplicaPhaseResult? Replicas { get; init; }
}

/// <summary>
/// Starts the three sample services on loopback ports, drives orders at the order service, injects faults through the
/// services' control endpoints, and reports what the mesh did about them.
/// </summary>
public static class DemoRunner
{
    private const string Inventory = "inventory-service";
    private const string Payment = "payment-service";

    public static async Task<DemoResult> RunAsync(DemoOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        output = TextWriter.Synchronized(output);
        var d = options.Duration;
        var breakerTimeout = TimeSpan.FromMilliseconds(Math.Max(1500, d.TotalMilliseconds * 0.075));
        var ports = (order: FreePort(), inventory: FreePort(), payment: FreePort());
        using var certificates = new DemoCertificates("order-service", Inventory, Payment);

        output.WriteLine("Mesh.AspNetCore demo");
        output.WriteLine($"  inventory-service  127.0.0.1:{ports.inventory}   (fault control: POST /control/fault/{{healthy|transient|down}})");
        output.WriteLine($"  payment-service    127.0.0.1:{ports.payment}   (rate limit 100 per 60000 ms; POST /control/overload)");
        output.WriteLine($"  order-service      127.0.0.1:{ports.order}   (production configuration; calls both through IMeshClient<T>)");
        output.WriteLine($"  timings scaled to the {d.TotalSeconds:0} s run: breaker Timeout {breakerTimeout.TotalMilliseconds:0} ms, retry InitialDelay 200 ms");
        output.WriteLine($"  mutual TLS between all of them: certificates from a mesh CA made at start in {certificates.Directory}");
        output.WriteLine($"  inventory and payment accept calls only from order-service (and {DemoCertificates.DemoIdentity}, which drives this demo)");
        output.WriteLine();

        string[] onlyOrders = ["--Mesh:Authorization:AllowedCallers:0=order-service", $"--Mesh:Authorization:AllowedCallers:1={DemoCertificates.DemoIdentity}"];
        await using var inventory = await StartAsync(InventoryService.InventoryServiceApp.Build, typeof(InventoryService.InventoryServiceApp), ports.inventory,
            [.. certificates.Arguments(Inventory), .. onlyOrders]);
        await using var payment = await StartAsync(PaymentService.PaymentServiceApp.Build, typeof(PaymentService.PaymentServiceApp), ports.payment,
            [.. certificates.Arguments(Payment), .. onlyOrders]);
        await using var order = await StartAsync(OrderService.OrderServiceApp.Build, typeof(OrderService.OrderServiceApp), ports.order,
        [
            .. certificates.Arguments("order-service"),
            $"--Mesh:Discovery:Services:0:Host=127.0.0.1", $"--Mesh:Discovery:Services:0:Port={ports.inventory}",
            $"--Mesh:Discovery:Services:1:Host=127.0.0.1", $"--Mesh:Discovery:Services:1:Port={ports.payment}",
            $"--Mesh:Resilience:CircuitBreaker:Timeout={(int)breakerTimeout.TotalMilliseconds}",
            "--Mesh:Resilience:Retry:InitialDelay=200",
            "--Mesh:Resilience:Retry:MaxDelay=2000",
        ]);
        output.WriteLine($"dashboard: http://127.0.0.1:{WebPort(order, ports.order)}/mesh/dashboard");
        output.WriteLine();

        using var http = new HttpClient(certificates.CreateHandler()) { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var channel = GrpcChannel.ForAddress($"https://127.0.0.1:{ports.order}", new GrpcChannelOptions { HttpHandler = certificates.CreateHandler() });
        var orders = new Orders.OrdersClient(channel);
        var clock = Stopwatch.StartNew();
        var traffic = new Traffic(orders);
        var watcher = new StateWatcher(order.Services.GetRequiredService<ISecureMesh>(), output, clock);

        var phases = new Phase[]
        {
            new("healthy", d * 0.10, null),
            new("inventory fails transiently: the first attempt of every order fails, its retry succeeds", d * 0.15,
                () => PostAsync(http, ports.inventory, "/control/fault/transient", cancellationToken)),
            new("inventory goes down: its breaker opens and calls fail fast", d * 0.15,
                () => PostAsync(http, ports.inventory, "/control/fault/down", cancellationToken)),
            new("inventory comes back: half-open trials, then the breaker closes", d * 0.20,
                () => PostAsync(http, ports.inventory, "/control/fault/healthy", cancellationToken)),
            new("payment overloaded: 3 requests per second; the client backs off with the server's pushback", d * 0.25,
                () => PostAsync(http, ports.payment, "/control/overload?maxRequests=3&windowMs=1000", cancellationToken)),
            new("payment recovers", d * 0.15,
                () => DeleteAsync(http, ports.payment, "/control/overload", cancellationToken)),
        };

        var orderMesh = order.Services.GetRequiredService<ISecureMesh>();
        var paymentMesh = payment.Services.GetRequiredService<ISecureMesh>();
        var inventoryMesh = inventory.Services.GetRequiredService<ISecureMesh>();
        var interval = TimeSpan.FromMilliseconds(Math.Clamp(d.TotalMilliseconds / 80, 100, 500));
        var retrySucceeded = false;
        var backedOff = false;

        using var watching = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watch = watcher.RunAsync(watching.Token);
        for (var p = 0; p < phases.Length; p++)
        {
            var phase = phases[p];
            output.WriteLine($"[{clock.Elapsed.TotalSeconds,5:0.0}s] phase {p + 1}/{phases.Length}: {phase.Name}");
            if (phase.Enter is not null)
            {
                await phase.Enter();
            }

            var before = orderMesh.GetStats();
            var acceptedBefore = traffic.Accepted;
            var phaseClock = Stopwatch.StartNew();
            var nextTable = TimeSpan.FromSeconds(1);
            while (phaseClock.Elapsed < phase.Length && !cancellationToken.IsCancellationRequested)
            {
                traffic.Fire(burst: p == 4 ? 2 : 1);
                await Task.Delay(interval, cancellationToken);
                if (!options.Quiet && phaseClock.Elapsed >= nextTable)
                {
                    nextTable += TimeSpan.FromSeconds(1);
                    WriteTable(output, clock, phase, phaseClock.Elapsed, traffic, orderMesh.GetStats(), inventoryMesh.GetStats(), paymentMesh.GetStats());
                }
            }

            await traffic.DrainAsync();
            var after = orderMesh.GetStats();
            if (p == 1)
            {
                var sent = Delta(before, after, Inventory, s => s.MessagesSent);
                var retries = Delta(before, after, Inventory, s => s.Retries);
                var failed = Delta(before, after, Inventory, s => s.MessagesFailed);
                retrySucceeded = sent > 0 && retries > 0 && failed == 0;
                output.WriteLine($"         {sent} inventory calls, {retries} retries, {failed} failed: every transient failure was retried and succeeded");
            }
            else if (p == 4)
            {
                var retries = Delta(before, after, Payment, s => s.Retries);
                backedOff = retries > 0 && traffic.Accepted > acceptedBefore;
                output.WriteLine($"         {retries} payment retries after RESOURCE_EXHAUSTED; {traffic.Accepted - acceptedBefore} orders accepted in this phase");
            }
        }

        output.WriteLine($"[{clock.Elapsed.TotalSeconds,5:0.0}s] phase {phases.Length + 1}, the last: one of three inventory replicas goes down: it is ejected and orders keep succeeding");
        var replicas = await ReplicaPhase.RunAsync(d * 0.15, options.Quiet, output, clock, cancellationToken);

        await watching.CancelAsync();
        await watch;

        var paymentRejected = paymentMesh.GetStats().Metrics.RateLimitBlocked;
        output.WriteLine();
        output.WriteLine("GET /mesh/stats on order-service:");
        var json = await http.GetStringAsync(new Uri($"https://127.0.0.1:{ports.order}/mesh/stats"), cancellationToken);
        using (var document = JsonDocument.Parse(json))
        {
            output.WriteLine(JsonSerializer.Serialize(document.RootElement, IndentedJson));
        }

        var result = new DemoResult(
            retrySucceeded,
            watcher.Seen(CircuitState.Open),
            watcher.Seen(CircuitState.HalfOpen),
            watcher.ClosedAfterOpen,
            paymentRejected > 0,
            backedOff,
            traffic.Accepted,
            traffic.Rejected)
        {
            Replicas = replicas,
        };

        output.WriteLine();
        output.WriteLine($"orders accepted {result.OrdersAccepted}, rejected {result.OrdersRejected}");
        output.WriteLine("patterns seen acting:");
        Report(output, "retry that succeeded", result.RetrySucceeded);
        Report(output, "circuit breaker opened", result.CircuitOpened);
        Report(output, "half-open trial", result.HalfOpenTrial);
        Report(output, "circuit breaker closed again", result.CircuitClosed);
        Report(output, $"rate-limit rejection ({paymentRejected} at payment-service)", result.RateLimitRejected);
        Report(output, "backed off with pushback and succeeded", result.BackedOffAndSucceeded);
        Report(output, $"bad replica ejected, {replicas.OrdersAccepted} orders accepted and {replicas.OrdersRejected} rejected meanwhile, breaker closed", replicas.Passed);
        if (options.Linger > TimeSpan.Zero)
        {
            output.WriteLine();
            output.WriteLine($"services stay up for {options.Linger.TotalSeconds:0} s (--linger); Ctrl+C stops them");
            try
            {
                await Task.Delay(options.Linger, cancellationToken);
            }
            catch (OperationCanceledException)
            {
            }
        }

        return result;
    }

    private static readonly JsonSerializerOptions IndentedJson = new() { WriteIndented = true };

    private static void Report(TextWriter output, string pattern, bool seen) =>
        output.WriteLine($"  {(seen ? "yes" : "NO "),-4} {pattern}");

    private static long Delta(MeshStats before, MeshStats after, string service, Func<MeshMetricsSnapshot, long> value) =>
        value(after.Services[service]) - (before.Services.TryGetValue(service, out var b) ? value(b) : 0);

    private static void WriteTable(TextWriter output, Stopwatch clock, Phase phase, TimeSpan inPhase, Traffic traffic,
        MeshStats order, MeshStats inventory, MeshStats payment)
    {
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"[{clock.Elapsed.TotalSeconds,5:0.0}s] {(int)inPhase.TotalSeconds}/{phase.Length.TotalSeconds:0} s of this phase; orders accepted {traffic.Accepted}, rejected {traffic.Rejected}"));
        output.WriteLine("         service             calls  failed  retries  breaker    rate-limited  p50 ms  p99 ms");
        foreach (var (id, inbound) in new[] { (Inventory, inventory), (Payment, payment) })
        {
            if (!order.Services.TryGetValue(id, out var s))
            {
                continue;
            }

            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"         {id,-18} {s.MessagesSent,6} {s.MessagesFailed,7} {s.Retries,8}  {Word(s.CircuitBreakerState),-10} {inbound.Metrics.RateLimitBlocked,12} {s.P50LatencyMs,7:0.0} {s.P99LatencyMs,7:0.0}"));
        }
    }

    internal static string Word(CircuitState state) => state switch
    {
        CircuitState.Open => "open",
        CircuitState.HalfOpen => "half_open",
        _ => "closed",
    };

    internal static async Task<WebApplication> StartAsync(Func<string[], Action<WebApplicationBuilder>?, WebApplication> build, Type service, int port, string[] extra)
    {
        var contentRoot = service.Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "ContentRoot").Value!;
        string[] args = [$"--contentRoot={contentRoot}", $"--Mesh:Port={port}", "--Mesh:ListenAddress=127.0.0.1", "--Kestrel:Endpoints:Web:Url=http://127.0.0.1:0", .. extra];
        var app = build(args, builder =>
        {
            builder.Environment.EnvironmentName = "Production";
            builder.Logging.ClearProviders();
        });
        await app.StartAsync();
        return app;
    }

    /// <summary>The port of the service's HTTP/1.1 endpoint (dashboard, /metrics), beside its gRPC port.</summary>
    private static int WebPort(WebApplication app, int meshPort) =>
        app.Urls.Select(url => new Uri(url).Port).First(port => port != meshPort);

    private static async Task PostAsync(HttpClient http, int port, string path, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsync(new Uri($"https://127.0.0.1:{port}{path}"), null, cancellationToken);
        response.EnsureSuccessStatusCode();
    }

    private static async Task DeleteAsync(HttpClient http, int port, string path, CancellationToken cancellationToken)
    {
        using var response = await http.DeleteAsync(new Uri($"https://127.0.0.1:{port}{path}"), cancellationToken);
        response.EnsureSuccessStatusCode();
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed record Phase(string Name, TimeSpan Length, Func<Task>? Enter);

    /// <summary>Places orders without waiting for earlier ones, the way independent users would.</summary>
    private sealed class Traffic(Orders.OrdersClient orders)
    {
        private readonly List<Task> _inFlight = [];
        private long _accepted;
        private long _rejected;

        public long Accepted => Interlocked.Read(ref _accepted);

        public long Rejected => Interlocked.Read(ref _rejected);

        public void Fire(int burst)
        {
            _inFlight.RemoveAll(t => t.IsCompleted);
            for (var i = 0; i < burst; i++)
            {
                _inFlight.Add(PlaceAsync());
            }
        }

        public Task DrainAsync() => Task.WhenAll(_inFlight);

        private async Task PlaceAsync()
        {
            try
            {
                var reply = await orders.PlaceAsync(
                    new OrderRequest { Sku = "book-42", Quantity = 1, AmountCents = 1999 },
                    deadline: DateTime.UtcNow.AddSeconds(10));
                if (reply.Accepted)
                {
                    Interlocked.Increment(ref _accepted);
                }
                else
                {
                    Interlocked.Increment(ref _rejected);
                }
            }
            catch (RpcException)
            {
                Interlocked.Increment(ref _rejected);
            }
        }
    }

    /// <summary>Prints circuit breaker state changes of the order service's clients as they happen.</summary>
    private sealed class StateWatcher(ISecureMesh mesh, TextWriter output, Stopwatch clock)
    {
        private readonly HashSet<CircuitState> _seen = [];
        private readonly Dictionary<string, CircuitState> _last = [];

        public bool ClosedAfterOpen { get; private set; }

        public bool Seen(CircuitState state) => _seen.Contains(state);

        public async Task RunAsync(CancellationToken cancellationToken)
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
            try
            {
                do
                {
                    foreach (var (id, stats) in mesh.GetStats().Services)
                    {
                        var state = stats.CircuitBreakerState;
                        var previous = _last.GetValueOrDefault(id, CircuitState.Closed);
                        if (state == previous)
                        {
                            continue;
                        }

                        _last[id] = state;
                        _seen.Add(state);
                        ClosedAfterOpen |= state == CircuitState.Closed && _seen.Contains(CircuitState.Open);
                        output.WriteLine($"[{clock.Elapsed.TotalSeconds,5:0.0}s] >>> {id} circuit breaker {Word(previous)} -> {Word(state)}");
                    }
                }
                while (await timer.WaitForNextTickAsync(cancellationToken));
            }
            catch (OperationCanceledException)
            {
            }
        }
    }
}
