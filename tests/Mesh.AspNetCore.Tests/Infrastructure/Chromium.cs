using Microsoft.Playwright;

namespace Mesh.AspNetCore.Tests.Infrastructure;

/// <summary>
/// A real headless Chromium, driven by Playwright: the system's browser (Debian package <c>chromium</c>), never a download.
/// Without it the browser tests are skipped with a message saying how to install it, unless <c>MESH_REQUIRE_BROWSER=1</c>
/// (as in CI), which turns the skip into a failure.
/// </summary>
public sealed class Chromium : IAsyncDisposable
{
    public const string RequireVariable = "MESH_REQUIRE_BROWSER";
    public const string PathVariable = "MESH_CHROMIUM";
    private const string DefaultPath = "/usr/bin/chromium";

    private readonly IPlaywright _playwright;

    private Chromium(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        Browser = browser;
    }

    public IBrowser Browser { get; }

    /// <summary>Launches the browser, or skips the test (fails it under <c>MESH_REQUIRE_BROWSER=1</c>) when it is not installed.</summary>
    public static async Task<Chromium> LaunchAsync()
    {
        var path = Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } configured ? configured : DefaultPath;
        if (!File.Exists(path))
        {
            var message = $"Chromium was not found at {path}: the dashboard's browser tests need it. Install it with "
                + $"`sudo apt-get install chromium` (Debian/Ubuntu), or point {PathVariable} at a Chromium or Chrome binary.";
            if (Environment.GetEnvironmentVariable(RequireVariable) == "1")
            {
                Assert.Fail(message + $" ({RequireVariable}=1: browser tests must run.)");
            }

            Assert.Skip(message);
        }

        var playwright = await Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = path,
                Headless = true,
                Args = ["--no-sandbox"],
            });
            return new Chromium(playwright, browser);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    /// <summary>A new page of the given size; console errors and CSP violations are collected in <paramref name="errors"/>.</summary>
    public async Task<IPage> NewPageAsync(List<string> errors, int width = 1280, int height = 900)
    {
        var page = await Browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = width, Height = height } });
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                lock (errors)
                {
                    errors.Add(message.Text);
                }

                TestContext.Current.TestOutputHelper?.WriteLine("browser console error: " + message.Text);
            }
        };
        page.PageError += (_, error) =>
        {
            lock (errors)
            {
                errors.Add(error);
            }

            TestContext.Current.TestOutputHelper?.WriteLine("page error: " + error);
        };
        return page;
    }

    public async ValueTask DisposeAsync()
    {
        await Browser.DisposeAsync();
        _playwright.Dispose();
    }
}
