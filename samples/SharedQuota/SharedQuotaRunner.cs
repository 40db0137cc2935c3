using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using Garnet;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Samples;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace SharedQuota;

/// <summary>What the sample saw: how many calls each replica admitted, with the shared store and with memory only.</summary>
public sealed record SharedQuotaResult(int MaxRequests, int SharedAdmitted, int MemoryAdmitted)
{
    /// <summary>The shared store admitted exactly <see cref="MaxRequests"/> across both replicas; memory admitted that many on each.</summary>
    public bool QuotaShared => SharedAdmitted == MaxRequests && MemoryAdmitted == 2 * MaxRequests;
}

/// <summary>
/// Starts an embedded Garnet server and two replicas of the payment service that share one rate limit through it
/// (<c>Store: Redis</c>), calls them in turn as one caller, then does the same with two replicas on the memory store.
/// </summary>
public static class SharedQuotaRunner
{
    public const int MaxRequests = 10;
    private const int Calls = 24;

    public static async Task<SharedQuotaResult> RunAsync(TextWriter output, CancellationToken cancellationToken)
    {
        var storePort = FreePort();
        using var garnet = new GarnetServer(["--port", storePort.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--lua", "--memory", "64m", "--index", "16m"]);
        garnet.Start();
        output.WriteLine($"Garnet (a Redis-compatible store) on 127.0.0.1:{storePort}");

        string[] shared =
        [
            "--Mesh:Resilience:RateLimit:Store=Redis",
            $"--Mesh:Redis:Configuration=127.0.0.1:{storePort}",

            // The store runs in this process beside both replicas: give it more than the default 250 ms on a busy
            // machine, so that a slow first answer does not show the fallback instead of the shared quota.
            "--Mesh:Redis:TimeoutMs=2000",
        ];
        var sharedAdmitted = await RunReplicasAsync("Store: Redis (one quota for the service)", shared, output, cancellationToken);
        var memoryAdmitted = await RunReplicasAsync("Store: Memory (one quota per replica)", [], output, cancellationToken);

        var result = new SharedQuotaResult(MaxRequests, sharedAdmitted, memoryAdmitted);
        output.WriteLine(result.QuotaShared
            ? $"The shared store admitted {MaxRequests} calls in all; memory admitted {MaxRequests} on each replica."
            : $"Unexpected: shared store admitted {sharedAdmitted}, memory {memoryAdmitted} (limit {MaxRequests}).");
        return result;
    }

    private static async Task<int> RunReplicasAsync(string title, string[] store, TextWriter output, CancellationToken cancellationToken)
    {
        output.WriteLine();
        output.WriteLine($"{title}: two payment-service replicas, {MaxRequests} requests per caller per minute");
        string[] limit = [$"--Mesh:Resilience:RateLimit:MaxRequests={MaxRequests}", "--Mesh:Resilience:RateLimit:WindowMs=60000", .. store];
        await using var a = await StartReplicaAsync(limit);
        await using var b = await StartReplicaAsync(limit);
        using var channelA = GrpcChannel.ForAddress($"http://127.0.0.1:{a.Port}");
        using var channelB = GrpcChannel.ForAddress($"http://127.0.0.1:{b.Port}");
        var replicas = new[] { (Name: $"replica A :{a.Port}", Client: new Payment.PaymentClient(channelA)), (Name: $"replica B :{b.Port}", Client: new Payment.PaymentClient(channelB)) };
        var headers = new Metadata { { "x-mesh-service-id", "order-service" } };
        var admitted = 0;
        for (var i = 0; i < Calls; i++)
        {
            var (name, client) = replicas[i % 2];
            try
            {
                await client.ChargeAsync(new ChargeRequest { OrderId = $"order-{i + 1}", AmountCents = 100 }, headers, cancellationToken: cancellationToken);
                admitted++;
                output.WriteLine($"  call {i + 1,2} -> {name}: OK");
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted)
            {
                output.WriteLine($"  call {i + 1,2} -> {name}: RESOURCE_EXHAUSTED, retry after {ex.Trailers.GetValue("retry-after")} s");
            }
        }

        output.WriteLine($"  admitted {admitted} of {Calls}");
        return admitted;
    }

    private static async Task<Replica> StartReplicaAsync(string[] extra)
    {
        var port = FreePort();
        var contentRoot = typeof(PaymentService.PaymentServiceApp).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "ContentRoot").Value!;
        string[] args = [$"--contentRoot={contentRoot}", $"--Mesh:Port={port}", "--Mesh:ListenAddress=127.0.0.1", "--Kestrel:Endpoints:Web:Url=http://127.0.0.1:0", .. extra];
        var app = PaymentService.PaymentServiceApp.Build(args, builder =>
        {
            builder.Environment.EnvironmentName = "Production";
            builder.Logging.ClearProviders();
            if (Environment.GetEnvironmentVariable("SHARED_QUOTA_LOG") is not null)
            {
                builder.Logging.AddConsole();
            }
        });
        await app.StartAsync();
        return new Replica(app, port);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed record Replica(WebApplication App, int Port) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
    }
}
