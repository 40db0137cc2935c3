using Mesh.AspNetCore.Benchmarks.Protos;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// What the retry budget and <c>OnlyIdempotent</c> add to a call through the mesh's pipeline, measured as paired ratios
/// (<see cref="PairedRun"/>) on the clients of <see cref="ClientPipelineBenchmarks"/>:
/// <c>dotnet run -c Release --project tests/Mesh.AspNetCore.Benchmarks -- --paired-pipeline [--rounds 101] [--calls 2000]</c>.
/// BenchmarkDotNet's rows of that class differ by less than their own error on this machine.
/// </summary>
public static class PairedClientPipelineRun
{
    public const string Option = "--paired-pipeline";

    public static int Run(string[] args)
    {
        var rounds = BenchmarkOptions.Int(args, "--rounds", 101);
        var calls = BenchmarkOptions.Int(args, "--calls", 2000);

        var benchmarks = new ClientPipelineBenchmarks();
        benchmarks.Setup();
        try
        {
            (string Name, Func<Task<PingReply>> Call)[] clients =
            [
                ("mesh pipeline, retry budget off", benchmarks.MeshBudgetOff),
                ("mesh pipeline, retry budget on (default)", benchmarks.Mesh),
                ("mesh pipeline, retry budget and OnlyIdempotent on", benchmarks.MeshSafeRetries),
            ];
            (int Numerator, int Denominator, string Name)[] pairs =
            [
                (1, 0, "budget on / budget off"),
                (2, 0, "budget and OnlyIdempotent on / budget off"),
            ];
            PairedRun.Measure(clients, pairs, rounds, calls);
            return 0;
        }
        finally
        {
            benchmarks.Cleanup();
        }
    }
}
