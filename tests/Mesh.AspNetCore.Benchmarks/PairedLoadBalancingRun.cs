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
        var rounds = BenchmarkOptions.Int(args, "--rounds", 101);
        var calls = BenchmarkOptions.Int(args, "--calls", 200);

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
            PairedRun.Measure(clients, pairs, rounds, calls);
            return 0;
        }
        finally
        {
            loopback.Cleanup();
            inProcess.Cleanup();
        }
    }
}
