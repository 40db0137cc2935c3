using System.Diagnostics;
using System.Globalization;
using Mesh.AspNetCore.Benchmarks.Infrastructure;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>One server of the load run: <paramref name="Start"/> starts it on a free loopback port.</summary>
/// <param name="Name">The scenario, as the tables name it.</param>
/// <param name="Path">The path h2load requests.</param>
/// <param name="Grpc">Whether h2load sends the gRPC <c>Ping</c> (else the JSON order).</param>
/// <param name="Start">Starts the server.</param>
internal sealed record Scenario(string Name, string Path, bool Grpc, Func<BenchmarkServer> Start);

/// <summary>What a server's process has spent so far: CPU time (user and system), bytes allocated, methods the JIT compiled.</summary>
internal readonly record struct ServerCounters(TimeSpan Cpu, long AllocatedBytes, long MethodsCompiled)
{
    /// <summary>The counters of this process.</summary>
    public static ServerCounters OfThisProcess()
    {
        using var self = Process.GetCurrentProcess();
        return new(self.TotalProcessorTime, GC.GetTotalAllocatedBytes(precise: true), System.Runtime.JitInfo.GetCompiledMethodCount());
    }

    /// <summary>The counters as a server process writes them to the load run: one line of three numbers.</summary>
    public string ToLine() => string.Create(CultureInfo.InvariantCulture, $"{Cpu.Ticks} {AllocatedBytes} {MethodsCompiled}");

    public static ServerCounters FromLine(string line)
    {
        var parts = line.Split(' ');
        return new(
            TimeSpan.FromTicks(long.Parse(parts[0], CultureInfo.InvariantCulture)),
            long.Parse(parts[1], CultureInfo.InvariantCulture),
            long.Parse(parts[2], CultureInfo.InvariantCulture));
    }
}

/// <summary>A server that h2load loads, and the counters of the process it runs in.</summary>
internal interface ILoadServer : IDisposable
{
    Uri Address { get; }

    ServerCounters Read();
}

/// <summary>A server in the load run's own process: its counters are the process's, shared with the other servers there.</summary>
internal sealed class InProcessServer(BenchmarkServer server) : ILoadServer
{
    public Uri Address => server.Address;

    public ServerCounters Read() => ServerCounters.OfThisProcess();

    public void Dispose() => server.Dispose();
}

/// <summary>
/// A server in a process of its own (<c>--process-per-server</c>), as a service runs: its JIT, its dynamic PGO profile,
/// its GC heap and its thread pool serve it alone. The process is this program started with
/// <see cref="LoadRun.ServeOption"/> and the scenario's index; it inherits this process's CPU affinity. It writes its
/// address on its first line, answers each <c>read</c> line on its standard input with its counters, and stops when its
/// standard input ends.
/// </summary>
internal sealed class ServerProcess : ILoadServer
{
    private const string ReadCommand = "read";
    private readonly Process _process;

    private ServerProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
    }

    public Uri Address { get; }

    public static ServerProcess Start(int scenario)
    {
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("The path of this process is unknown.");
        var start = new ProcessStartInfo(host)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };

        // Run as `dotnet Mesh.AspNetCore.Benchmarks.dll`: the child needs the assembly too; the app host needs nothing.
        if (string.Equals(Path.GetFileNameWithoutExtension(host), "dotnet", StringComparison.OrdinalIgnoreCase))
        {
            start.ArgumentList.Add(typeof(ServerProcess).Assembly.Location);
        }

        start.ArgumentList.Add(LoadRun.ServeOption);
        start.ArgumentList.Add(scenario.ToString(CultureInfo.InvariantCulture));
        var process = Process.Start(start) ?? throw new InvalidOperationException("The server process did not start.");
        var first = process.StandardOutput.ReadLine();
        if (!Uri.TryCreate(first, UriKind.Absolute, out var address))
        {
            process.Kill();
            process.Dispose();
            throw new InvalidOperationException($"The server process of scenario {scenario} did not give its address: {first}");
        }

        return new ServerProcess(process, address);
    }

    public ServerCounters Read()
    {
        _process.StandardInput.WriteLine(ReadCommand);
        _process.StandardInput.Flush();
        return ServerCounters.FromLine(_process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("The server process ended."));
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The server process has ended already (its stdin pipe is broken): nothing left to stop.
        }

        if (!_process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            _process.Kill();
        }

        _process.Dispose();
    }

    /// <summary>The server process's side: serves scenario <paramref name="scenario"/> until its standard input ends.</summary>
    public static int Serve(Scenario scenario)
    {
        using var server = scenario.Start();
        Console.Out.WriteLine(server.Address);
        Console.Out.Flush();
        while (Console.In.ReadLine() is { } line)
        {
            if (line == ReadCommand)
            {
                Console.Out.WriteLine(ServerCounters.OfThisProcess().ToLine());
                Console.Out.Flush();
            }
        }

        return 0;
    }
}
