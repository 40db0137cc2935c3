using BenchmarkDotNet.Running;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// Runs the benchmarks: <c>dotnet run -c Release --project tests/Mesh.AspNetCore.Benchmarks -- --filter '*'</c>
/// (add <c>--job short</c> for a run of a few minutes).
/// </summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
