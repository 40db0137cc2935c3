using System.Globalization;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>The <c>--name value</c> options of the load and paired runs.</summary>
public static class BenchmarkOptions
{
    public static string? String(string[] args, string name)
    {
        var index = Array.FindIndex(args, a => string.Equals(a, name, StringComparison.OrdinalIgnoreCase));
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    public static int Int(string[] args, string name, int fallback) =>
        String(args, name) is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;
}
