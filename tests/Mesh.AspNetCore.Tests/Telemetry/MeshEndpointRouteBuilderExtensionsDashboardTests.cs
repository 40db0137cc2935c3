using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Mesh.AspNetCore.Telemetry.Internal;
using Mesh.AspNetCore.Tests.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.Telemetry;

/// <summary>The dashboard's page and feed over real HTTP, without a browser.</summary>
public sealed class MeshEndpointRouteBuilderExtensionsDashboardTests
{
    private const string Json = """{ "Mesh": { "ServiceId": "order-service" } }""";
    private const string Inventory = "inventory-service";
    private const string Payment = "payment-service";
    private const string Reserve = "/inventory.Inventory/Reserve";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void MapMeshDashboard_WithoutAddSecureMesh_ThrowsNamingAddSecureMesh()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseSetting("urls", "http://127.0.0.1:0");
        var app = builder.Build();

        var error = Assert.Throws<InvalidOperationException>(() => app.MapMeshDashboard());

        Assert.Contains("AddSecureMesh()", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MapMeshDashboard_Page_IsOneSelfContainedDocumentUnder100KBWithStrictCsp()
    {
        await using var host = await DashboardHost.StartAsync(Json, b => b.Services.AddSecureMesh(), app => app.MapMeshDashboard());
        using var client = host.CreateHttpClient();

        using var response = await client.GetAsync(new Uri("/mesh/dashboard", UriKind.Relative), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var bytes = await response.Content.ReadAsByteArrayAsync(Ct);
        Assert.InRange(bytes.Length, 1, 100 * 1024 - 1);
        var html = Encoding.UTF8.GetString(bytes);

        // Nothing is fetched from elsewhere: no external script, style sheet, font or image; only the SVG namespace names a URL.
        foreach (var external in new[] { "src=", "@import", "url(", "@font-face", "//cdn", "https://" })
        {
            Assert.DoesNotContain(external, html, StringComparison.OrdinalIgnoreCase);
        }

        Assert.All(System.Text.RegularExpressions.Regex.Matches(html, @"href=""([^""]*)""").Select(m => m.Groups[1].Value), href => Assert.StartsWith("data:", href, StringComparison.Ordinal));

        Assert.Equal(["http://www.w3.org/2000/svg"], Urls(html));

        var csp = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.StartsWith("default-src 'none';", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe", csp, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self'", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.Contains($"script-src '{Sha256(Between(html, "<script>", "</script>"))}'", csp, StringComparison.Ordinal);
        Assert.Contains($"style-src '{Sha256(Between(html, "<style>", "</style>"))}'", csp, StringComparison.Ordinal);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task MapMeshDashboard_Feed_HoldsTheStatsOfMapMeshStatsAndTheBreakersTransitionsWithTheirTime()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 5, 1, 12, 0, 0, TimeSpan.Zero));
        await using var host = await DashboardHost.StartAsync(
            Json,
            b =>
            {
                b.Services.AddSingleton<TimeProvider>(time);
                b.Services.AddSecureMesh();
            },
            app =>
            {
                app.MapMeshStats();
                app.MapMeshDashboard();
            });
        var metrics = host.Services.GetRequiredService<MeshMetrics>();
        metrics.CallCompleted(Inventory, Reserve, StatusCode.OK, TimeSpan.FromMilliseconds(8));
        metrics.CallCompleted(Payment, "/payment.Payment/Charge", StatusCode.Unavailable, TimeSpan.FromMilliseconds(40));
        metrics.CircuitStateChanged(Payment, CircuitState.Closed, CircuitState.Open);
        time.Advance(TimeSpan.FromSeconds(1));
        metrics.CircuitStateChanged(Payment, CircuitState.Open, CircuitState.HalfOpen);
        metrics.RateLimitDecision(admitted: false, "http");
        using var client = host.CreateHttpClient();

        var stats = await client.GetStringAsync(new Uri("/mesh/stats", UriKind.Relative), Ct);
        using var response = await client.GetAsync(new Uri("/mesh/dashboard/feed", UriKind.Relative), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var feed = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        var root = feed.RootElement;
        Assert.Equal(["time", "intervalMs", "latencyWindowMs", "stats", "history"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(time.GetUtcNow(), root.GetProperty("time").GetDateTimeOffset());
        Assert.Equal(500, root.GetProperty("intervalMs").GetInt32());
        Assert.Equal(stats, root.GetProperty("stats").GetRawText());

        var payment = root.GetProperty("history").GetProperty(Payment);
        Assert.Equal(2, payment.GetProperty("transitionCount").GetInt64());
        Assert.Equal(
            [("closed", "open", "2026-05-01T12:00:00+00:00"), ("open", "half_open", "2026-05-01T12:00:01+00:00")],
            payment.GetProperty("transitions").EnumerateArray()
                .Select(t => (t.GetProperty("from").GetString(), t.GetProperty("to").GetString(), t.GetProperty("at").GetString())));
        Assert.Equal(0, root.GetProperty("history").GetProperty(Inventory).GetProperty("transitions").GetArrayLength());
    }

    [Fact]
    public async Task MapMeshDashboard_ManyTransitions_FeedKeepsTheLatestTenOldestFirst()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 5, 1, 12, 0, 0, TimeSpan.Zero));
        await using var host = await DashboardHost.StartAsync(
            Json,
            b =>
            {
                b.Services.AddSingleton<TimeProvider>(time);
                b.Services.AddSecureMesh();
            },
            app => app.MapMeshDashboard());
        var metrics = host.Services.GetRequiredService<MeshMetrics>();
        for (var i = 0; i < 25; i++)
        {
            metrics.CircuitStateChanged(Payment, CircuitState.Closed, CircuitState.Open);
            time.Advance(TimeSpan.FromSeconds(1));
            metrics.CircuitStateChanged(Payment, CircuitState.Open, CircuitState.Closed);
            time.Advance(TimeSpan.FromSeconds(1));
        }

        using var feed = await GetFeedAsync(host);

        var payment = feed.RootElement.GetProperty("history").GetProperty(Payment);
        Assert.Equal(50, payment.GetProperty("transitionCount").GetInt64());
        var times = payment.GetProperty("transitions").EnumerateArray().Select(t => t.GetProperty("at").GetDateTimeOffset()).ToArray();
        Assert.Equal(Enumerable.Range(40, 10).Select(s => time.Start.AddSeconds(s)), times);
    }

    [Fact]
    public async Task MapMeshDashboard_LatencyWindows_FeedChartsEachWindowsOwnCallsNotTheTotal()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 5, 1, 12, 0, 0, TimeSpan.Zero));
        await using var host = await DashboardHost.StartAsync(
            Json,
            b =>
            {
                b.Services.AddSingleton<TimeProvider>(time);
                b.Services.AddSecureMesh();
            },
            app => app.MapMeshDashboard());
        var metrics = host.Services.GetRequiredService<MeshMetrics>();

        // First window: 100 fast calls. Second: none. Third: 10 slow calls.
        for (var i = 0; i < 100; i++)
        {
            metrics.CallCompleted(Inventory, Reserve, StatusCode.OK, TimeSpan.FromMilliseconds(2));
        }

        time.Advance(DashboardConstants.LatencyWindow);
        time.Advance(DashboardConstants.LatencyWindow);
        for (var i = 0; i < 10; i++)
        {
            metrics.CallCompleted(Inventory, Reserve, StatusCode.OK, TimeSpan.FromMilliseconds(200));
        }

        time.Advance(DashboardConstants.LatencyWindow);

        using var feed = await GetFeedAsync(host);
        var points = feed.RootElement.GetProperty("history").GetProperty(Inventory).GetProperty("latency").EnumerateArray()
            .Select(p => (Seq: p.GetProperty("seq").GetInt64(), Calls: p.GetProperty("calls").GetInt64(), P50: p.GetProperty("p50Ms").GetDouble(), P99: p.GetProperty("p99Ms").GetDouble()))
            .ToArray();
        Assert.Equal([1L, 2L, 3L], points.Select(p => p.Seq));
        Assert.Equal([100L, 0L, 10L], points.Select(p => p.Calls));
        Assert.InRange(points[0].P50, 1.9, 2.1);
        Assert.InRange(points[2].P50, 190, 210);
        Assert.InRange(points[2].P99, 190, 210);
    }

    [Fact]
    public async Task MapMeshDashboard_MoreThanFiveMinutesOfWindows_FeedKeepsTheLastFiveMinutes()
    {
        var time = new FakeTimeProvider();
        await using var host = await DashboardHost.StartAsync(
            Json,
            b =>
            {
                b.Services.AddSingleton<TimeProvider>(time);
                b.Services.AddSecureMesh();
            },
            app => app.MapMeshDashboard());
        var metrics = host.Services.GetRequiredService<MeshMetrics>();
        Assert.Equal(TimeSpan.FromMinutes(5), DashboardConstants.LatencyWindow * DashboardConstants.LatencyHistoryLength);
        for (var i = 0; i < DashboardConstants.LatencyHistoryLength + 15; i++)
        {
            metrics.CallCompleted(Inventory, Reserve, StatusCode.OK, TimeSpan.FromMilliseconds(1));
            time.Advance(DashboardConstants.LatencyWindow);
        }

        using var feed = await GetFeedAsync(host);

        var seqs = feed.RootElement.GetProperty("history").GetProperty(Inventory).GetProperty("latency").EnumerateArray()
            .Select(p => p.GetProperty("seq").GetInt64());
        Assert.Equal(Enumerable.Range(16, DashboardConstants.LatencyHistoryLength).Select(i => (long)i), seqs);
    }

    [Fact]
    public async Task MapMeshDashboard_EventStream_SendsSnapshotsEveryHalfSecondAndABreakerChangeWithinOne()
    {
        await using var host = await DashboardHost.StartAsync(Json, b => b.Services.AddSecureMesh(), app => app.MapMeshDashboard());
        var metrics = host.Services.GetRequiredService<MeshMetrics>();
        using var client = host.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/mesh/dashboard/feed");
        request.Headers.Accept.ParseAdd("text/event-stream");

        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Ct));
        Assert.Equal("retry: 1000", await reader.ReadLineAsync(Ct));
        Assert.Equal(string.Empty, await reader.ReadLineAsync(Ct));

        using var first = await ReadEventAsync(reader);
        Assert.Empty(first.RootElement.GetProperty("stats").GetProperty("services").EnumerateObject());
        metrics.CircuitStateChanged(Payment, CircuitState.Closed, CircuitState.Open);
        using var second = await ReadEventAsync(reader);

        var interval = second.RootElement.GetProperty("time").GetDateTimeOffset() - first.RootElement.GetProperty("time").GetDateTimeOffset();
        Assert.True(interval >= TimeSpan.FromMilliseconds(450), $"snapshots {interval.TotalMilliseconds} ms apart");
        Assert.Equal("open", second.RootElement.GetProperty("stats").GetProperty("services").GetProperty(Payment).GetProperty("circuitBreakerState").GetString());
        Assert.Equal("open", second.RootElement.GetProperty("history").GetProperty(Payment).GetProperty("transitions")[0].GetProperty("to").GetString());
    }

    [Fact]
    public async Task MapMeshDashboard_RequireAuthorization_ProtectsPageAndFeed()
    {
        await using var host = await DashboardHost.StartAsync(
            Json,
            b =>
            {
                b.Services.AddAuthentication(TestAuthenticationHandler.SchemeName)
                    .AddScheme<AuthenticationSchemeOptions, TestAuthenticationHandler>(TestAuthenticationHandler.SchemeName, null);
                b.Services.AddAuthorization();
                b.Services.AddSecureMesh();
            },
            app =>
            {
                app.UseAuthentication();
                app.UseAuthorization();
                app.MapMeshDashboard().RequireAuthorization();
            });
        using var client = host.CreateHttpClient();

        foreach (var path in new[] { "/mesh/dashboard", "/mesh/dashboard/feed" })
        {
            using var anonymous = await client.GetAsync(new Uri(path, UriKind.Relative), Ct);
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Add(TestAuthenticationHandler.UserHeader, "operator");
            using var signedIn = await client.SendAsync(request, Ct);

            Assert.Equal((HttpStatusCode.Unauthorized, HttpStatusCode.OK), (anonymous.StatusCode, signedIn.StatusCode));
        }
    }

    [Fact]
    public async Task MapMeshDashboard_CustomPattern_ServesPageAndFeedBelowIt()
    {
        await using var host = await DashboardHost.StartAsync(Json, b => b.Services.AddSecureMesh(), app => app.MapMeshDashboard("/ops/mesh"));
        using var client = host.CreateHttpClient();

        using var page = await client.GetAsync(new Uri("/ops/mesh", UriKind.Relative), Ct);
        using var feed = await client.GetAsync(new Uri("/ops/mesh/feed", UriKind.Relative), Ct);
        using var defaultPage = await client.GetAsync(new Uri("/mesh/dashboard", UriKind.Relative), Ct);

        Assert.Equal(
            (HttpStatusCode.OK, "text/html", HttpStatusCode.OK, "application/json", HttpStatusCode.NotFound),
            (page.StatusCode, page.Content.Headers.ContentType?.MediaType, feed.StatusCode, feed.Content.Headers.ContentType?.MediaType, defaultPage.StatusCode));
    }

    private static async Task<JsonDocument> GetFeedAsync(DashboardHost host)
    {
        using var client = host.CreateHttpClient();
        return JsonDocument.Parse(await client.GetStringAsync(new Uri("/mesh/dashboard/feed", UriKind.Relative), Ct));
    }

    private static async Task<JsonDocument> ReadEventAsync(StreamReader reader)
    {
        var data = await reader.ReadLineAsync(Ct);
        Assert.NotNull(data);
        Assert.StartsWith("data: ", data, StringComparison.Ordinal);
        Assert.Equal(string.Empty, await reader.ReadLineAsync(Ct));
        return JsonDocument.Parse(data["data: ".Length..]);
    }

    private static string Between(string text, string open, string close)
    {
        var start = text.IndexOf(open, StringComparison.Ordinal) + open.Length;
        return text[start..text.IndexOf(close, start, StringComparison.Ordinal)];
    }

    private static string Sha256(string text) => "sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    private static string[] Urls(string html) =>
        [.. System.Text.RegularExpressions.Regex.Matches(html, @"https?://[^'""\s)]+").Select(m => m.Value).Distinct()];
}
