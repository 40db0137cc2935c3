using System.Globalization;
using Mesh.AspNetCore.Benchmarks.Protos;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// The time ratio of load balancing over three endpoints against one, measured so that a shared machine's changing load
/// cancels out: <c>dotnet run -c Release --project tests/Mesh.AspNetCore.Benchmarks -- --paired [--rounds 101] [--calls 200]</c>.
/// Not BenchmarkDotNet (which measures one row after the other, so a load that changes between rows moves their ratio):
/// each round times blocks of sequential calls through the clients of <see cref="LoadBalancingCallPathBenchmarks"/>
/// (in-process) and of <see cref="LoadBalancingBenchmarks"/> (loopback), the two clients of each compared pair back to
/// back (in alternating order), and takes the pair's ratio within the round. It prints the median per-call time of each
/// client and the median and quartiles of the rounds' ratios.
/// </summary>
public static class PairedLoadBalancingRun
{
    public const string Option = "--paired";

    public static int Run(string[] args)
    {
        var rounds = IntOption(args, "--rounds", 101);
        var calls = IntOption(args, "--calls", 200);

        var inProcess = new LoadBalancingCallPathBenchmarks();
        var loopback = new LoadBalancingBenchmarks();
        inProcess.Setup();
        loopback.Setup();
        try
        {
            (string Name, Func<Task<PingReply>> Call)[] clients =
            [
                ("in-process, mesh, one endpoint", inProcess.MeshOneEndpoint),
                ("in-process, mesh, three endpoints", inProcess.MeshThreeEndpoints),
                ("in-process, plain round_robin, one endpoint", inProcess.PlainRoundRobinOneEndpoint),
                ("in-process, plain round_robin, three endpoints", inProcess.PlainRoundRobinThreeEndpoints),
                ("loopback, mesh, one endpoint", loopback.MeshOneEndpoint),
                ("loopback, mesh, three endpoints", loopback.MeshThreeEndpoints),
                ("loopback, plain round_robin, one endpoint", loopback.PlainRoundRobinOneEndpoint),
                ("loopback, plain round_robin, three endpoints", loopback.PlainRoundRobinThreeEndpoints),
            ];

            // One untimed round: JIT tiers and pools.
            foreach (var client in clients)
            {
                TimeBlock(client.Call, calls);
            }

            // The pairs whose ratio is wanted, each pair timed back to back (first one, then the other, alternating).
            (int Numerator, int Denominator, string Name)[] pairs =
            [
                (1, 0, "in-process: mesh three / mesh one"),
                (3, 2, "in-process: plain three / plain one"),
                (1, 3, "in-process: mesh three / plain three"),
                (5, 4, "loopback: mesh three / mesh one"),
                (7, 6, "loopback: plain three / plain one"),
                (5, 7, "loopback: mesh three / plain three"),
            ];
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
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {clients[c].Name} | {median:F2} | {q1:F2} to {q3:F2} |"));
            }

            Console.WriteLine();
            Console.WriteLine("| Ratio, within each round | Median | Quartiles |");
            Console.WriteLine("| --- | ---: | --- |");
            for (var p = 0; p < pairs.Length; p++)
            {
                var (q1, median, q3) = Quartiles(ratios[p]);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {pairs[p].Name} | {median:F3} | {q1:F3} to {q3:F3} |"));
            }

            return 0;
        }
        finally
        {
            loopback.Cleanup();
            inProcess.Cleanup();
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

    private static int IntOption(string[] args, string name, int fallback)
    {
        var index = Array.FindIndex(args, a => string.Equals(a, name, StringComparison.OrdinalIgnoreCase));
        return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
