using Grpc.Core;
using Mesh.AspNetCore.Tests.Discovery;
using Mesh.AspNetCore.Tests.Infrastructure;
using Mesh.AspNetCore.Tests.Protos;
using Mesh.AspNetCore.Tests.Resilience;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Mesh.AspNetCore.Tests.Telemetry;

/// <summary>
/// The dashboard in a real headless Chromium, fed by a real application whose mesh clients call real downstream servers
/// on Kestrel: what a person watching the page would see.
/// </summary>
public sealed class MeshDashboardBrowserTests
{
    private const int BreakerTimeoutMs = 5000;
    private static readonly EchoRequest Hello = new() { Text = "hello" };
    private static readonly LocatorAssertionsToHaveTextOptions Soon = new() { Timeout = 15_000 };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task MapMeshDashboard_DownstreamFailsThenRecovers_PageFollowsBreakerFromClosedToOpenToClosed()
    {
        await using var chromium = await Chromium.LaunchAsync();
        var inventoryScript = new EchoScript();
        await using var inventory = await EchoServer.StartAsync(inventoryScript);
        await using var payment = await EchoServer.StartAsync(new EchoScript());
        var resilience = $$"""
            {
              "CircuitBreaker": { "FailureThreshold": 3, "SuccessThreshold": 1, "Timeout": {{BreakerTimeoutMs}} },
              "Retry": { "MaxAttempts": 0 }
            }
            """;
        await using var host = await DashboardHost.StartAsync(
            MeshConfig.For(inventory.Port, resilience, payment.Port),
            b => b.Services.AddSecureMesh()
                .AddClient<InventoryClient>("inventory-service")
                .AddClient<PaymentClient>("payment-service"),
            app => app.MapMeshDashboard());
        var inventoryClient = host.Services.GetRequiredService<IMeshClient<InventoryClient>>().Client;
        var paymentClient = host.Services.GetRequiredService<IMeshClient<PaymentClient>>().Client;
        await inventoryClient.SayAsync(Hello, cancellationToken: Ct);
        await paymentClient.SayAsync(Hello, cancellationToken: Ct);

        var errors = new List<string>();
        var page = await chromium.NewPageAsync(errors);
        await page.GotoAsync(new Uri(host.Address, "/mesh/dashboard").ToString());
        var inventoryCard = page.Locator("section[data-service='inventory-service']");
        var paymentCard = page.Locator("section[data-service='payment-service']");
        var inventoryState = inventoryCard.Locator("[data-role='state']");

        // Renders: this service, each target service with a closed breaker, its calls, and a live feed.
        await Expect(page.Locator("#service")).ToHaveTextAsync("order-service", Soon);
        await Expect(page.Locator("#status")).ToHaveTextAsync("live", Soon);
        await Expect(inventoryState).ToHaveTextAsync("closed", Soon);
        await Expect(paymentCard.Locator("[data-role='state']")).ToHaveTextAsync("closed", Soon);
        await Expect(inventoryCard.Locator("[data-role='totals']")).ToContainTextAsync("1 calls · 0 failed", new() { Timeout = 15_000 });
        await Expect(paymentCard.Locator("[data-role='totals']")).ToContainTextAsync("1 calls · 0 failed", new() { Timeout = 15_000 });

        // The downstream fails: three failed calls open the breaker, and the page says so.
        inventoryScript.Say = EchoScript.FailWith(StatusCode.Unavailable);
        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<RpcException>(() => inventoryClient.SayAsync(Hello, cancellationToken: Ct).ResponseAsync);
        }

        await Expect(inventoryState).ToHaveTextAsync("open", Soon);
        await Expect(inventoryCard.Locator("[data-role='transitions'] li[data-from='closed'][data-to='open']")).ToHaveCountAsync(1);
        await Expect(paymentCard.Locator("[data-role='state']")).ToHaveTextAsync("closed");

        // The downstream recovers: after the breaker's timeout the page shows it half-open, and one successful trial closes it.
        inventoryScript.Say = static (r, _) => Task.FromResult(new EchoReply { Text = r.Text });
        await Expect(inventoryState).ToHaveTextAsync("half_open", new() { Timeout = BreakerTimeoutMs + 15_000 });
        await inventoryClient.SayAsync(Hello, cancellationToken: Ct);

        await Expect(inventoryState).ToHaveTextAsync("closed", Soon);
        var transitions = inventoryCard.Locator("[data-role='transitions'] li");
        await Expect(transitions).ToHaveCountAsync(3);
        Assert.Equal(
            ["half_open → closed", "open → half_open", "closed → open"],
            (await transitions.Locator("span:nth-child(2)").AllTextContentsAsync()).ToArray());
        await Expect(inventoryCard.Locator("[data-role='totals']")).ToContainTextAsync("5 calls · 3 failed");
        Assert.Empty(errors);
    }

    [Fact]
    public async Task MapMeshDashboard_OneOfTwoReplicasKeepsFailing_PageShowsBothEndpointsAndTheEjectedOne()
    {
        await using var chromium = await Chromium.LaunchAsync();
        await using var replicas = await Replicas.StartAsync(2);
        await using var host = await DashboardHost.StartAsync(
            Replicas.Config(replicas.Endpoints(0, 1), """{ "Retry": { "MaxAttempts": 0 }, "OutlierDetection": { "ConsecutiveFailures": 3 } }"""),
            b => b.Services.AddSecureMesh().AddClient<InventoryClient>("inventory-service"),
            app => app.MapMeshDashboard());
        var inventoryClient = host.Services.GetRequiredService<InventoryClient>();
        var mesh = host.Services.GetRequiredService<ISecureMesh>();

        // Both replicas connected; then the second fails every call until outlier detection ejects it.
        await MeshLoadBalancerTests.CallUntilAsync(inventoryClient, () => replicas.Calls.All(c => c > 0));
        replicas.Scripts[1].Say = EchoScript.FailWith(StatusCode.Unavailable);
        await MeshLoadBalancerTests.CallUntilAsync(
            inventoryClient,
            () => mesh.GetStats().Services["inventory-service"].Endpoints!.Any(e => e.State == "ejected"),
            tolerateFailures: true);
        var bad = Assert.Single(mesh.GetStats().Services["inventory-service"].Endpoints!, e => e.State == "ejected");
        Assert.Equal(replicas.Address(1), bad.Address);

        var errors = new List<string>();
        var page = await chromium.NewPageAsync(errors);
        await page.GotoAsync(new Uri(host.Address, "/mesh/dashboard").ToString());
        var endpoints = page.Locator("section[data-service='inventory-service'] [data-role='endpoints']");

        await Expect(endpoints.Locator("tr")).ToHaveCountAsync(2, new() { Timeout = 15_000 });
        var good = endpoints.Locator($"tr[data-endpoint='{replicas.Address(0)}']");
        var ejected = endpoints.Locator($"tr[data-endpoint='{replicas.Address(1)}']");
        await Expect(good.Locator("td:nth-child(2)")).ToHaveTextAsync("ready");
        await Expect(ejected.Locator("td:nth-child(2)")).ToHaveTextAsync("ejected");
        await Expect(ejected.Locator("td:nth-child(4)")).ToHaveTextAsync(bad.Failures.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Expect(page.Locator("section[data-service='inventory-service'] [data-role='state']")).ToHaveTextAsync("closed");
        Assert.Empty(errors);
    }
}
