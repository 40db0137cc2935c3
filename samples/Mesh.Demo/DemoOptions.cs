using System.Globalization;

namespace Mesh.Demo;

/// <summary>Command-line options of the demo.</summary>
public sealed record DemoOptions
{
    /// <summary>Total running time; the phases are scaled to fit it.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(40);

    /// <summary>Prints only state changes and the final summary, no per-second tables.</summary>
    public bool Quiet { get; init; }

    /// <summary>How long the services stay up after the phases, so a person can look at the dashboard.</summary>
    public TimeSpan Linger { get; init; }

    public static DemoOptions Parse(string[] args)
    {
        var options = new DemoOptions();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quiet" or "-q":
                    options = options with { Quiet = true };
                    break;
                case "--short":
                    options = options with { Duration = TimeSpan.FromSeconds(16) };
                    break;
                case "--duration" or "-d" when i + 1 < args.Length
                    && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds is >= 10 and <= 600:
                    options = options with { Duration = TimeSpan.FromSeconds(seconds) };
                    i++;
                    break;
                case "--linger" when i + 1 < args.Length
                    && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var linger) && linger <= 3600:
                    options = options with { Linger = TimeSpan.FromSeconds(linger) };
                    i++;
                    break;
                case "--help" or "-h":
                    throw new DemoUsageException();
                default:
                    throw new DemoUsageException($"unknown or invalid option '{args[i]}'");
            }
        }

        return options;
    }

    public const string Usage = """
        Mesh.AspNetCore demo: starts order-service, inventory-service and payment-service on loopback, drives orders
        at the order service and injects faults, showing retry, circuit breaker and rate limiting at work.

        usage: dotnet run --project samples/Mesh.Demo -- [--duration SECONDS] [--short] [--quiet] [--linger SECONDS]
          --duration SECONDS   total running time, 10 to 600 (default 40)
          --short              a 16-second run
          --quiet              no per-second tables: only state changes and the summary
          --linger SECONDS     keep the services (and the order service's dashboard) up this long after the phases, 0 to 3600
        """;
}

public sealed class DemoUsageException(string? message = null) : Exception(message);
