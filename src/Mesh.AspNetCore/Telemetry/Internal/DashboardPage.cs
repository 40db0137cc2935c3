using System.Security.Cryptography;
using System.Text;

namespace Mesh.AspNetCore.Telemetry.Internal;

/// <summary>
/// The dashboard page: one HTML document embedded in the assembly, with its style and script inline, and the
/// Content-Security-Policy that allows exactly those two blocks (by their SHA-256) and requests to its own origin.
/// </summary>
internal sealed class DashboardPage
{
    public const string ResourceName = "Mesh.AspNetCore.Telemetry.DashboardPage.html";

    private static readonly Lazy<DashboardPage> s_instance = new(Load);

    private DashboardPage(byte[] content, string contentSecurityPolicy)
    {
        Content = content;
        ContentSecurityPolicy = contentSecurityPolicy;
    }

    public static DashboardPage Instance => s_instance.Value;

    /// <summary>The page, UTF-8.</summary>
    public byte[] Content { get; }

    /// <summary>No source but the page's own inline blocks and its origin's feed; no framing, no forms, no plugins.</summary>
    public string ContentSecurityPolicy { get; }

    private static DashboardPage Load()
    {
        using var stream = typeof(DashboardPage).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The dashboard page is missing from the assembly (resource '{ResourceName}').");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var html = reader.ReadToEnd();

        var csp = "default-src 'none'; "
            + $"style-src '{Hash(InlineBlock(html, "style"))}'; "
            + $"script-src '{Hash(InlineBlock(html, "script"))}'; "
            + "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
        return new DashboardPage(Encoding.UTF8.GetBytes(html), csp);
    }

    private static string InlineBlock(string html, string tag)
    {
        var open = html.IndexOf($"<{tag}>", StringComparison.Ordinal);
        var close = html.IndexOf($"</{tag}>", StringComparison.Ordinal);
        if (open < 0 || close < open || html.IndexOf($"<{tag}>", open + 1, StringComparison.Ordinal) >= 0)
        {
            throw new InvalidOperationException($"The dashboard page must have exactly one <{tag}> block.");
        }

        return html[(open + tag.Length + 2)..close];
    }

    private static string Hash(string block) => "sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(block)));
}
