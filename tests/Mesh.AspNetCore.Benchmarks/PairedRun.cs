using System.Globalization;
using Mesh.AspNetCore.Benchmarks.Protos;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// Time ratios measured so that a shared machine's changing load cancels out. Not BenchmarkDotNet, which measures one
/// row after the other, so a load that changes between rows moves their ratio: each round times a block of sequential
/// calls through each client of a compared pair back to back (in alternating order) and takes the pair's ratio within
/// the round. Prints the median per-call time of each client and the median and quartiles of the rounds' ratios.
/// </summary>
public static class PairedRun
{
    public static void Measure(
        (string Name, Func<Task<PingReply>> Call)[] clients,
        (int Numerator, int Denominator, string Name)[] pairs,
        int rounds,
        int calls)
    {
        // One untimed round: JIT tiers and pools.
        foreach (var client in clients)
        {
            TimeBlock(client.Call, calls);
        }

        var perCall = new List<double>[clients.Length];
        for (var c = 0; c < clients.Length; c++)
        {
            perCall[c] = [];
        }

        var ratios = new double[pairs.Length][];
        for (var p = 0; p < pairs.Length; p++)
        {
            ratios[p] = new double[rounds];
        }

        for (var round = 0; round < rounds; round++)
        {
            for (var p = 0; p < pairs.Length; p++)
            {
                var (numerator, denominator, _) = pairs[p];
                var first = round % 2 == 0 ? numerator : denominator;
                var second = first == numerator ? denominator : numerator;
                var firstTime = TimeBlock(clients[first].Call, calls);
                var secondTime = TimeBlock(clients[second].Call, calls);
                perCall[first].Add(firstTime);
                perCall[second].Add(secondTime);
                ratios[p][round] = first == numerator ? firstTime / secondTime : secondTime / firstTime;
            }

            Console.Error.Write('.');
        }

        Console.Error.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{rounds} rounds; in each, every pair below timed back to back ({calls} sequential calls per client, order alternating)"));
        Console.WriteLine();
        Console.WriteLine("| Client | Median per call (us) | Quartiles (us) |");
        Console.WriteLine("| --- | ---: | --- |");
        for (var c = 0; c < clients.Length; c++)
        {
            var (q1, median, q3) = Quartiles([.. perCall[c]]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {clients[c].Name} | {median:F3} | {q1:F3} to {q3:F3} |"));
        }

        Console.WriteLine();
        Console.WriteLine("| Ratio, within each round | Median | Quartiles |");
        Console.WriteLine("| --- | ---: | --- |");
        for (var p = 0; p < pairs.Length; p++)
        {
            var (q1, median, q3) = Quartiles(ratios[p]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {pairs[p].Name} | {median:F3} | {q1:F3} to {q3:F3} |"));
        }
    }

    /// <summary>Microseconds per call of <paramref name="calls"/> sequential calls.</summary>
    private static double TimeBlock(Func<Task<PingReply>> call, int calls)
    {
        var time = TimeProvider.System;
        var start = time.GetTimestamp();
        for (var i = 0; i < calls; i++)
        {
            call().GetAwaiter().GetResult();
        }

        return time.GetElapsedTime(start).TotalMicroseconds / calls;
    }

    private static (double Q1, double Median, double Q3) Quartiles(double[] values)
    {
        var sorted = values.Order().ToArray();
        return (At(0.25), At(0.5), At(0.75));

        double At(double q)
        {
            var position = q * (sorted.Length - 1);
            var low = (int)Math.Floor(position);
            var high = (int)Math.Ceiling(position);
            return sorted[low] + ((sorted[high] - sorted[low]) * (position - low));
        }
    }
}
