using System.Text.RegularExpressions;
using Mesh.AspNetCore.Tests.Infrastructure;
using Mesh.Demo;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Mesh.AspNetCore.Tests.Samples;

/// <summary>
/// The demo's dashboard in a real headless Chromium: the URL the demo prints at its start serves a page that follows the
/// whole run, and stays live while the services linger. The test saves a screenshot of it (the README's picture).
/// </summary>
public sealed partial class DemoDashboardBrowserTests
{
    /// <summary>Also save the screenshot here (e.g. docs/dashboard.png) when set.</summary>
    public const string ScreenshotVariable = "MESH_DASHBOARD_SCREENSHOT";

    private static readonly LocatorAssertionsToHaveTextOptions Soon = new() { Timeout = 30_000 };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RunAsync_WithLinger_DashboardFollowsTheRunAndStaysLive()
    {
        await using var chromium = await Chromium.LaunchAsync();
        var output = new WatchedWriter();

        var demo = DemoRunner.RunAsync(
            new DemoOptions { Duration = TimeSpan.FromSeconds(16), Quiet = true, Linger = TimeSpan.FromSeconds(5) }, output, Ct);
        var dashboard = await output.WaitForAsync(DashboardLine());

        var errors = new List<string>();
        var page = await chromium.NewPageAsync(errors, width: 1280, height: 560);
        await page.GotoAsync(dashboard.Groups["url"].Value);
        var inventory = page.Locator("section[data-service='inventory-service']");
        var payment = page.Locator("section[data-service='payment-service']");
        await Expect(page.Locator("#service")).ToHaveTextAsync("order-service", Soon);
        await Expect(page.Locator("#status")).ToHaveTextAsync("live", Soon);
        await Expect(payment.Locator("[data-role='state']")).ToHaveTextAsync("closed", Soon);

        // Inventory goes down and comes back during the run: the page lists its breaker opening, then closing again.
        await Expect(inventory.Locator("[data-role='transitions'] li[data-to='open']").First).ToBeVisibleAsync(new() { Timeout = 60_000 });
        await Expect(inventory.Locator("[data-role='transitions'] li[data-from='half_open'][data-to='closed']").First)
            .ToBeVisibleAsync(new() { Timeout = 60_000 });

        // Payment is overloaded: the page shows the retries per second that the server's pushback causes. (The README's picture.)
        await output.WaitForAsync(PaymentOverloadLine());
        await Expect(payment.Locator("[data-role='retries-rate']")).Not.ToHaveTextAsync(ZeroRate(), Soon);
        var screenshot = Path.Combine(AppContext.BaseDirectory, "dashboard.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        if (Environment.GetEnvironmentVariable(ScreenshotVariable) is { Length: > 0 } copy)
        {
            File.Copy(screenshot, copy, overwrite: true);
        }

        // The phases are over and the services linger: the page is still fed.
        await output.WaitForAsync(LingerLine());
        var before = await page.Locator("#updated").TextContentAsync();
        await Expect(page.Locator("#updated")).Not.ToHaveTextAsync(before ?? string.Empty, Soon);
        await Expect(page.Locator("#status")).ToHaveTextAsync("live");
        await Expect(inventory.Locator("[data-role='state']")).ToHaveTextAsync("closed");
        await Expect(page.Locator("#limiter [data-role='admitted-total']")).Not.ToHaveTextAsync("0");

        // Leave before the demo stops its services, whose end would cut the page's stream.
        await page.CloseAsync();
        lock (errors)
        {
            Assert.Empty(errors);
        }

        var result = await demo;
        Assert.True(result.CircuitOpened && result.CircuitClosed, output.ToString());
    }

    [GeneratedRegex(@"^dashboard: (?<url>http://127\.0\.0\.1:\d+/mesh/dashboard)$")]
    private static partial Regex DashboardLine();

    [GeneratedRegex(@"phase 5/6: payment overloaded")]
    private static partial Regex PaymentOverloadLine();

    [GeneratedRegex(@"^(–|0\.0)$")]
    private static partial Regex ZeroRate();

    [GeneratedRegex(@"^services stay up for \d+ s")]
    private static partial Regex LingerLine();

    /// <summary>Keeps the demo's output and signals the first line that matches what a test waits for.</summary>
    private sealed class WatchedWriter : StringWriter
    {
        private readonly Lock _lock = new();
        private readonly List<(Regex Pattern, TaskCompletionSource<Match> Seen)> _waiting = [];
        private readonly List<string> _lines = [];

        public async Task<Match> WaitForAsync(Regex pattern)
        {
            var seen = new TaskCompletionSource<Match>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_lock)
            {
                foreach (var line in _lines)
                {
                    if (pattern.Match(line) is { Success: true } match)
                    {
                        return match;
                    }
                }

                _waiting.Add((pattern, seen));
            }

            return await seen.Task.WaitAsync(TimeSpan.FromSeconds(90), Ct);
        }

        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            lock (_lock)
            {
                _lines.Add(value ?? string.Empty);
                foreach (var (pattern, seen) in _waiting)
                {
                    if (pattern.Match(value ?? string.Empty) is { Success: true } match)
                    {
                        seen.TrySetResult(match);
                    }
                }
            }
        }
    }
}
