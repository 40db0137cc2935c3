using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using Perfolizer.Horology;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// Runs the benchmarks: <c>dotnet run -c Release --project tests/Mesh.AspNetCore.Benchmarks -- --filter '*'</c>.
/// Add <c>--quick</c> (this project's short job: 3 warmups and 15 measured iterations of 200 ms, a few minutes for the
/// whole suite on 2 cores) or BenchmarkDotNet's own <c>--job short</c> (3 and 3). <c>--load</c> runs the h2load load run
/// of <see cref="LoadRun"/> instead (<c>--load-pool</c> pools the rounds of saved runs), <c>--paired</c> the interleaved
/// load-balancing run of <see cref="PairedLoadBalancingRun"/>, <c>--paired-pipeline</c> the interleaved safe-retries run
/// of <see cref="PairedClientPipelineRun"/>.
/// </summary>
public static class Program
{
    public const string QuickOption = "--quick";

    public static int Main(string[] args)
    {
        if (args.Contains(LoadRun.ServeOption, StringComparer.OrdinalIgnoreCase))
        {
            return LoadRun.Serve(args);
        }

        if (args.Contains(LoadRun.PoolOption, StringComparer.OrdinalIgnoreCase))
        {
            return LoadRun.Pool(args);
        }

        if (args.Contains(LoadRun.Option, StringComparer.OrdinalIgnoreCase))
        {
            return LoadRun.Run(args);
        }

        if (args.Contains(PairedClientPipelineRun.Option, StringComparer.OrdinalIgnoreCase))
        {
            return PairedClientPipelineRun.Run(args);
        }

        if (args.Contains(PairedLoadBalancingRun.Option, StringComparer.OrdinalIgnoreCase))
        {
            return PairedLoadBalancingRun.Run(args);
        }

        var quick = args.Contains(QuickOption, StringComparer.OrdinalIgnoreCase);
        var config = quick
            ? DefaultConfig.Instance.AddJob(Job.Default
                .WithWarmupCount(3)
                .WithIterationCount(15)
                .WithIterationTime(TimeInterval.FromMilliseconds(200))
                .WithId("Quick"))
            : null;
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly)
            .Run([.. args.Where(a => !string.Equals(a, QuickOption, StringComparison.OrdinalIgnoreCase))], config);
        return 0;
    }
}
