using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading.RateLimiting;
using Google.Protobuf;
using Grpc.Core;
using Mesh.AspNetCore.Benchmarks.Infrastructure;
using Mesh.AspNetCore.Benchmarks.Protos;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// A load run over loopback HTTP/2 with h2load (Debian's <c>nghttp2-client</c>), the way a user would measure a server:
/// <c>dotnet run -c Release --project tests/Mesh.AspNetCore.Benchmarks -- --load [--rounds 5] [--requests 200000] [--only gRPC] [--allocation-types] [--h2load-cpus 1] [--process-per-server] [--processes 3] [--seed 1]</c>
/// (<c>--only</c> loads just the scenarios whose name contains its value; <c>--allocation-types</c> prints the types the
/// servers allocated in each scenario, from the runtime's allocation samples; <c>--h2load-cpus</c> runs h2load with
/// <c>taskset -c</c> on those CPUs, so that with the servers started under <c>taskset</c> on the others the two never
/// share a core).
/// Six Kestrel servers on 127.0.0.1, in this process or, with <c>--process-per-server</c>, each in a process of its own
/// (<see cref="ServerProcess"/>); each round loads each of them once, in an order drawn at random (<c>--seed</c>), so
/// that the machine's changing load spreads over every scenario, and the medians of the rounds give the ratios. With
/// <c>--processes N</c>, each scenario runs in N processes of its own, each loaded once a round, and a scenario's rate
/// in a round is the mean of its processes': two processes of one server differ by a few percent for as long as they
/// run (the tiered compiler's profile-guided code is each process's own), which more rounds do not average out.
/// </summary>
/// <remarks>
/// gRPC: the trivial unary <c>Ping</c> on a server without the mesh, with the mesh admitting every call, and with the
/// mesh rejecting every call (the caller's quota of the day is spent). HTTP: <c>POST /orders</c> with a small JSON body,
/// rejected by the mesh (<c>RequireMeshRateLimit()</c>) and by ASP.NET Core's own limiter
/// (<c>AddRateLimiter</c> + <c>AddFixedWindowLimiter</c> + <c>UseRateLimiter</c>, sending <c>Retry-After</c>). Last,
/// <c>Ping</c> on the mesh with no rate limit configured: its middleware and routing's stand-ins without a decision,
/// which splits what the admitting mesh adds to a plain server into the mesh being there and the decision itself.
/// </remarks>
public static partial class LoadRun
{
    public const string Option = "--load";
    public const string AllocationTypesOption = "--allocation-types";
    public const string H2LoadCpusOption = "--h2load-cpus";
    private const string OrdersPath = "/orders";
    private const string PingPath = "/mesh.benchmarks.Bench/Ping";
    private const int MaxMethodsCompiledInAQuietPass = 2;
    private const int SettledPassesInARow = 3;
    private const int MaxWarmUpPasses = 40;

    public const string ProcessPerServerOption = "--process-per-server";
    public const string ProcessesOption = "--processes";
    public const string ServeOption = "--load-server";
    public const string PoolOption = "--load-pool";
    private const int BootstrapResamples = 2000;
    private const int IntervalPercent = 95;

    /// <summary>The servers of the run, in the order of its tables; a server process started with <see cref="ServeOption"/> gets its index.</summary>
    private static readonly List<Scenario> Scenarios =
    [
        new("gRPC, plain server (no mesh)", PingPath, Grpc: true, () => BenchmarkServer.Start()),
        new("gRPC, mesh, every call admitted", PingPath, Grpc: true, () => BenchmarkServer.Start(MeshConfiguration.RateLimited(int.MaxValue), s => s.AddSecureMesh())),
        new("gRPC, mesh, every call rejected", PingPath, Grpc: true, () => BenchmarkServer.Start(MeshConfiguration.RateLimited(1), s => s.AddSecureMesh())),
        new("HTTP, mesh RequireMeshRateLimit, every request rejected", OrdersPath, Grpc: false, () => BenchmarkServer.Start(
            MeshConfiguration.RateLimited(1),
            s => s.AddSecureMesh(),
            app => app.MapPost(OrdersPath, (Order order) => order.Item).RequireMeshRateLimit())),
        new("HTTP, ASP.NET Core AddRateLimiter fixed window, every request rejected", OrdersPath, Grpc: false, () => BenchmarkServer.Start(
            configureServices: s => s.AddRateLimiter(options =>
            {
                options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
                options.AddFixedWindowLimiter("fixed", window =>
                {
                    window.PermitLimit = 1;
                    window.Window = TimeSpan.FromDays(1);
                    window.QueueLimit = 0;
                });
                options.OnRejected = static (context, _) =>
                {
                    if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter))
                    {
                        context.HttpContext.Response.Headers.RetryAfter = ((long)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                    }

                    return ValueTask.CompletedTask;
                };
            }),
            configureApp: app =>
            {
                app.UseRateLimiter();
                app.MapPost(OrdersPath, (Order order) => order.Item).RequireRateLimiting("fixed");
            })),
        new("gRPC, mesh, rate limit off", PingPath, Grpc: true, () => BenchmarkServer.Start(MeshConfiguration.NoRateLimit(), s => s.AddSecureMesh())),
    ];

    /// <summary>
    /// The ratios the run prints, of a scenario to its baseline (indices into <see cref="Scenarios"/>), with the goal or
    /// what the ratio shows. The run's medians give those with a note; the ratios within rounds give all of them.
    /// </summary>
    private static readonly (string Label, int Scenario, int Baseline, string? Note)[] Ratios =
    [
        ("mesh admitted / plain server:            ", 1, 0, "goal >= 0.97"),
        ("mesh rejected / plain server (admitted): ", 2, 0, "goal >= 1.10"),
        ("mesh HTTP rejected / AddRateLimiter:     ", 3, 4, "goal >= 0.90"),
        ("mesh, rate limit off / plain server:     ", 5, 0, "no goal: the mesh's middleware without a decision"),
        ("mesh admitted / mesh, rate limit off:    ", 1, 5, null),
    ];

    /// <summary>The server process of <see cref="ProcessPerServerOption"/>: <c>--load-server {index}</c> serves that scenario.</summary>
    public static int Serve(string[] args) =>
        ServerProcess.Serve(Scenarios[BenchmarkOptions.Int(args, ServeOption, -1)]);

    public static int Run(string[] args)
    {
        var rounds = BenchmarkOptions.Int(args, "--rounds", 5);
        var requests = BenchmarkOptions.Int(args, "--requests", 200_000);
        var connections = BenchmarkOptions.Int(args, "--connections", 16);
        var streams = BenchmarkOptions.Int(args, "--streams", 10);
        var only = BenchmarkOptions.String(args, "--only");
        var h2loadCpus = BenchmarkOptions.String(args, H2LoadCpusOption);
        Console.WriteLine(h2loadCpus is null
            ? $"servers and h2load share the machine's {Environment.ProcessorCount} processors"
            : $"servers on {Environment.ProcessorCount} processor(s) of this process's affinity; h2load on CPU(s) {h2loadCpus}");

        var grpcBody = WriteTemp(GrpcFrame(new PingRequest { Text = "ping" }));
        var jsonBody = WriteTemp("""{"item":"book","quantity":1}"""u8.ToArray());
        var processes = BenchmarkOptions.Int(args, ProcessesOption, 1);
        if (processes < 1)
        {
            Console.Error.WriteLine($"{ProcessesOption} needs a number of processes of at least 1.");
            return 2;
        }

        var separate = processes > 1 || args.Contains(ProcessPerServerOption, StringComparer.OrdinalIgnoreCase);
        if (separate && args.Contains(AllocationTypesOption, StringComparer.OrdinalIgnoreCase))
        {
            Console.Error.WriteLine($"{AllocationTypesOption} samples this process's allocations: it cannot be used with {ProcessPerServerOption} or {ProcessesOption}.");
            return 2;
        }

        Console.WriteLine(!separate ? "every server in this process"
            : processes == 1 ? "each server in a process of its own"
            : $"each server in {processes} processes of its own");
        var servers = new List<(string Name, ILoadServer Server, string Path, string Body, string ContentType, int Scenario)>();
        try
        {
            for (var process = 0; process < processes; process++)
            {
                for (var i = 0; i < Scenarios.Count; i++)
                {
                    var scenario = Scenarios[i];
                    ILoadServer server = separate ? ServerProcess.Start(i) : new InProcessServer(scenario.Start());
                    servers.Add((scenario.Name, server, scenario.Path, scenario.Grpc ? grpcBody : jsonBody, scenario.Grpc ? "application/grpc" : "application/json", i));
                }

                var set = servers[^Scenarios.Count..].Select(s => s.Server).ToArray();
                Prepare(set[0], set[1], set[2], set[3], set[4], set[5]);
            }

            // Untimed passes over every server first, until the JIT's tiers (tier 0, instrumented, tier 1) have settled:
            // three passes in a row that compile (next to) no method. The tiered compiler promotes methods in bursts,
            // whenever its call-counting delay runs out, so a single quiet pass says little: runs that stopped at the
            // first quiet pass went on compiling hundreds of methods a round, with rounds at half the settled speed. On
            // one core the JIT's background thread also competes with the servers for it.
            var warmUpPasses = 0;
            var quietPassesInARow = 0;
            while (quietPassesInARow < SettledPassesInARow && warmUpPasses < MaxWarmUpPasses)
            {
                // In one process, the pass is quiet when the process compiled (next to) nothing in all of it; with a
                // process per server, when each of them did.
                var compiled = servers.Where(s => only is null || s.Name.Contains(only, StringComparison.OrdinalIgnoreCase))
                    .Select(s => H2Load(s.Server, s.Path, s.Body, s.ContentType, connections, streams, requests, h2loadCpus).MethodsCompiled)
                    .ToArray();
                var compiledInThePass = separate ? compiled.DefaultIfEmpty().Max() : compiled.Sum();
                warmUpPasses++;
                quietPassesInARow = compiledInThePass <= MaxMethodsCompiledInAQuietPass ? quietPassesInARow + 1 : 0;
                Console.WriteLine($"untimed pass {warmUpPasses}: {string.Join(", ", compiled)} methods compiled");
            }

            Console.WriteLine(quietPassesInARow == SettledPassesInARow
                ? $"{warmUpPasses} untimed passes before the JIT settled ({SettledPassesInARow} in a row compiled at most {MaxMethodsCompiledInAQuietPass} methods{(separate ? " in each server's process" : string.Empty)})"
                : $"the JIT had not settled after {warmUpPasses} untimed passes; the rounds below count methods it still compiled");

            using var sampler = args.Contains(AllocationTypesOption, StringComparer.OrdinalIgnoreCase) ? new AllocationTypeSampler() : null;
            sampler?.PrintAndReset("start-up");
            var rates = servers.Select(_ => new List<double>()).ToArray();
            var cpu = servers.Select(_ => new List<double>()).ToArray();
            var allocations = servers.Select(_ => new List<double>()).ToArray();
            Console.WriteLine($"h2load -c {connections} -m {streams} -n {requests}, {rounds} interleaved rounds");
            // Each round loads the servers in an order of its own, drawn at random (seeded, so that a run can be
            // repeated), so that no scenario always runs right after the same other one: the previous load's servers
            // are still closing its connections and collecting its garbage on the same core. Rounds that only started
            // one scenario later kept the cycle, so the admitting server ran right after the plain one in 19 rounds
            // of 20.
            var shuffle = new Random(BenchmarkOptions.Int(args, "--seed", 1));
            var order = Enumerable.Range(0, servers.Count).ToArray();
            for (var round = 1; round <= rounds; round++)
            {
                shuffle.Shuffle(order);
                foreach (var i in order)
                {
                    var (name, server, path, body, contentType, _) = servers[i];
                    if (only is not null && !name.Contains(only, StringComparison.OrdinalIgnoreCase))
                    {
                        rates[i].Add(double.NaN);
                        cpu[i].Add(double.NaN);
                        allocations[i].Add(double.NaN);
                        continue;
                    }

                    var (rate, cpuPerRequest, bytesPerRequest, compiled) = H2Load(server, path, body, contentType, connections, streams, requests, h2loadCpus);
                    rates[i].Add(rate);
                    cpu[i].Add(cpuPerRequest);
                    allocations[i].Add(bytesPerRequest);
                    sampler?.PrintAndReset(name);
                    var ofProcess = processes > 1 ? $", process {(i / Scenarios.Count) + 1} of {processes}" : string.Empty;
                    Console.WriteLine($"round {round}: {name}: {rate:F0} req/s, server CPU {cpuPerRequest:F2} us/request, {bytesPerRequest:F0} B/request, {compiled} methods compiled by the JIT{ofProcess}");
                }
            }

            var scenarioOfServer = servers.Select(s => s.Scenario).ToArray();
            if (processes > 1)
            {
                PrintProcesses(scenarioOfServer, rates);
            }

            // A scenario's rate (and CPU, and bytes) in a round: the mean of its processes'.
            rates = OfScenarios(scenarioOfServer, rates);
            cpu = OfScenarios(scenarioOfServer, cpu);
            allocations = OfScenarios(scenarioOfServer, allocations);
            var medianRates = rates.Select(Median).ToArray();
            var medianCpu = cpu.Select(Median).ToArray();
            var medianAllocations = allocations.Select(Median).ToArray();
            Console.WriteLine();
            Console.WriteLine("| Scenario | Median req/s | Median server CPU (us/request) | Server allocated (B/request) | Rounds (req/s) |");
            Console.WriteLine("| --- | ---: | ---: | ---: | --- |");
            for (var i = 0; i < Scenarios.Count; i++)
            {
                Console.WriteLine($"| {Scenarios[i].Name} | {medianRates[i]:F0} | {medianCpu[i]:F2} | {medianAllocations[i]:F0} | {string.Join(", ", rates[i].Select(r => r.ToString("F0", CultureInfo.InvariantCulture)))} |");
            }

            Console.WriteLine();
            Console.WriteLine("Ratios of throughput (req/s) and, in brackets, of server CPU per request inverted (baseline CPU / scenario CPU):");
            foreach (var (label, scenario, baseline, note) in Ratios.Where(r => r.Note is not null))
            {
                Console.WriteLine($"{label}{medianRates[scenario] / medianRates[baseline]:F2} ({medianCpu[baseline] / medianCpu[scenario]:F2}) ({note})");
            }

            Console.WriteLine();
            PrintWithinRounds("The same ratios taken within each round", rates, cpu);
            return 0;
        }
        finally
        {
            foreach (var (_, server, _, _, _, _) in servers)
            {
                server.Dispose();
            }

            File.Delete(grpcBody);
            File.Delete(jsonBody);
        }
    }

    /// <summary>
    /// <c>--load-pool run1.txt run2.txt ...</c>: the ratios within rounds of several saved load runs together, read from
    /// their <c>round</c> lines, so that the rounds of runs on different days give one median and one interval.
    /// </summary>
    public static int Pool(string[] args)
    {
        var files = args.SkipWhile(a => !string.Equals(a, PoolOption, StringComparison.OrdinalIgnoreCase)).Skip(1).TakeWhile(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
        if (files.Length == 0)
        {
            Console.Error.WriteLine($"{PoolOption} needs the saved output of one load run or more.");
            return 2;
        }

        if (files.FirstOrDefault(f => !File.Exists(f)) is { } missing)
        {
            Console.Error.WriteLine($"{PoolOption}: no file '{missing}'.");
            return 2;
        }

        var rates = Scenarios.Select(_ => new List<double>()).ToArray();
        var cpu = Scenarios.Select(_ => new List<double>()).ToArray();
        var roundsRead = 0;
        foreach (var file in files)
        {
            // A round's line for each scenario: "round 3: {name}: 117396 req/s, server CPU 8.28 us/request, ...".
            // With --processes, a round has a line for each process of a scenario: the round's value is their mean.
            var rounds = new SortedDictionary<int, Dictionary<int, List<(double Rate, double Cpu)>>>();
            foreach (var line in File.ReadLines(file))
            {
                var match = RoundLine().Match(line);
                var scenario = match.Success ? Scenarios.FindIndex(s => s.Name == match.Groups["name"].Value) : -1;
                if (scenario >= 0)
                {
                    var round = int.Parse(match.Groups["round"].Value, CultureInfo.InvariantCulture);
                    var rate = double.Parse(match.Groups["rate"].Value, CultureInfo.InvariantCulture);
                    var cpuPerRequest = double.Parse(match.Groups["cpu"].Value, CultureInfo.InvariantCulture);
                    if (!rounds.TryGetValue(round, out var loaded))
                    {
                        rounds[round] = loaded = [];
                    }

                    if (!loaded.TryGetValue(scenario, out var ofProcesses))
                    {
                        loaded[scenario] = ofProcesses = [];
                    }

                    ofProcesses.Add((rate, cpuPerRequest));
                }
            }

            // Rounds stay paired: a scenario that a round did not load counts as missing there, not as a later round's.
            foreach (var round in rounds.Values)
            {
                for (var i = 0; i < Scenarios.Count; i++)
                {
                    var loaded = round.TryGetValue(i, out var values);
                    rates[i].Add(loaded ? values!.Average(v => v.Rate) : double.NaN);
                    cpu[i].Add(loaded ? values!.Average(v => v.Cpu) : double.NaN);
                }
            }

            roundsRead += rounds.Count;
            Console.WriteLine($"{file}: {rounds.Count} rounds");
        }

        if (roundsRead == 0)
        {
            Console.Error.WriteLine("No round lines found: pass the saved output of --load runs.");
            return 2;
        }

        PrintWithinRounds($"Ratios within each of the {roundsRead} rounds of {files.Length} run(s)", rates, cpu);
        return 0;
    }

    /// <summary>The values of each scenario's processes in each round (<paramref name="ofServers"/>, by server), as their mean.</summary>
    private static List<double>[] OfScenarios(int[] scenarioOfServer, List<double>[] ofServers) =>
        Scenarios.Select((_, scenario) =>
        {
            var mine = ofServers.Where((_, server) => scenarioOfServer[server] == scenario).ToArray();
            return Enumerable.Range(0, mine[0].Count).Select(round => mine.Average(values => values[round])).ToList();
        }).ToArray();

    /// <summary>
    /// Each process's median rate and its ratio to the first plain server's within rounds: how far processes of one
    /// server differ, which the interval of the rounds does not show.
    /// </summary>
    private static void PrintProcesses(int[] scenarioOfServer, List<double>[] rates)
    {
        Console.WriteLine();
        Console.WriteLine("Each process: median req/s and, within rounds, its ratio to the first plain server's process:");
        for (var scenario = 0; scenario < Scenarios.Count; scenario++)
        {
            var mine = Enumerable.Range(0, rates.Length).Where(server => scenarioOfServer[server] == scenario)
                .Select(server => string.Create(CultureInfo.InvariantCulture, $"{Median(rates[server]):F0} ({WithinRounds(rates[server], rates[0])})"));
            Console.WriteLine($"{Scenarios[scenario].Name}: {string.Join("; ", mine)}");
        }
    }

    // The scenarios of one round ran within seconds of each other: a ratio taken within each round cancels the machine's
    // slower changes of speed, which the medians of the whole run keep.
    private static void PrintWithinRounds(string title, List<double>[] rates, List<double>[] cpu)
    {
        Console.WriteLine($"{title} (median of the rounds, quartiles and the median's {IntervalPercent}% bootstrap interval in brackets):");
        foreach (var (label, scenario, baseline, _) in Ratios)
        {
            Console.WriteLine($"{label}{WithinRounds(rates[scenario], rates[baseline])}, CPU {WithinRounds(cpu[baseline], cpu[scenario])}");
        }
    }

    /// <summary>
    /// The ratios <paramref name="numerators"/>[r] / <paramref name="denominators"/>[r] of each round r: median (quartiles;
    /// interval), the interval from <see cref="BootstrapResamples"/> resamples of the rounds' ratios (seeded, so repeatable).
    /// </summary>
    private static string WithinRounds(List<double> numerators, List<double> denominators)
    {
        var ratios = numerators.Zip(denominators, (n, d) => n / d).Where(r => !double.IsNaN(r)).Order().ToArray();
        if (ratios.Length == 0)
        {
            return "n/a";
        }

        var random = new Random(1);
        var resample = new List<double>(ratios.Length);
        var medians = new double[BootstrapResamples];
        for (var b = 0; b < medians.Length; b++)
        {
            resample.Clear();
            for (var i = 0; i < ratios.Length; i++)
            {
                resample.Add(ratios[random.Next(ratios.Length)]);
            }

            medians[b] = Median(resample);
        }

        Array.Sort(medians);
        static double At(double[] sorted, double q) => sorted[(int)Math.Round(q * (sorted.Length - 1))];
        var tail = (1 - (IntervalPercent / 100.0)) / 2;
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{Median([.. ratios]):F2} ({At(ratios, 0.25):F2} to {At(ratios, 0.75):F2}; {At(medians, tail):F2} to {At(medians, 1 - tail):F2})");
    }

    [GeneratedRegex(@"^round (?<round>[0-9]+): (?<name>.+): (?<rate>[0-9.]+) req/s, server CPU (?<cpu>[0-9.]+) us/request")]
    private static partial Regex RoundLine();

    /// <summary>Spends the quotas of the rejecting servers and checks that every server answers as its scenario says.</summary>
    private static void Prepare(ILoadServer plain, ILoadServer admitting, ILoadServer rejecting, ILoadServer meshHttp, ILoadServer aspNetHttp, ILoadServer limitOff)
    {
        var request = new PingRequest { Text = "ping" };
        using var plainCall = new RawGrpcHttpClient(plain.Address, PingPath, request);
        using var admittedCall = new RawGrpcHttpClient(admitting.Address, PingPath, request);
        using var rejectedCall = new RawGrpcHttpClient(rejecting.Address, PingPath, request);
        using var limitOffCall = new RawGrpcHttpClient(limitOff.Address, PingPath, request);
        Expect(plainCall.CallAsync().GetAwaiter().GetResult() == (int)StatusCode.OK, "the plain server answers OK");
        Expect(admittedCall.CallAsync().GetAwaiter().GetResult() == (int)StatusCode.OK, "the admitting mesh answers OK");
        Expect(rejectedCall.CallAsync().GetAwaiter().GetResult() == (int)StatusCode.OK, "the rejecting mesh admits its first call");
        Expect(rejectedCall.CallAsync().GetAwaiter().GetResult() == (int)StatusCode.ResourceExhausted, "the rejecting mesh rejects");
        Expect(limitOffCall.CallAsync().GetAwaiter().GetResult() == (int)StatusCode.OK, "the mesh without a rate limit answers OK");

        foreach (var (server, name) in new[] { (meshHttp, "the mesh"), (aspNetHttp, "AddRateLimiter") })
        {
            using var http = new HttpClient { BaseAddress = server.Address, DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
            var statuses = Enumerable.Range(0, 2).Select(_ =>
            {
                using var content = new StringContent("""{"item":"book","quantity":1}""", Encoding.UTF8, "application/json");
                using var response = http.PostAsync(new Uri(OrdersPath, UriKind.Relative), content).GetAwaiter().GetResult();
                Expect(response.StatusCode != HttpStatusCode.TooManyRequests || response.Headers.RetryAfter is not null, $"{name} sends Retry-After");
                return response.StatusCode;
            }).ToArray();
            Expect(statuses is [HttpStatusCode.OK, HttpStatusCode.TooManyRequests], $"{name} admits one request, then answers 429");
        }
    }

    /// <summary>
    /// Sends <paramref name="requests"/> requests with h2load and returns its rate, and what the server's process spent
    /// meanwhile: CPU time and memory per request, and the methods its JIT compiled. h2load runs in its own process and
    /// is not counted. The bytes allocated are the steadiest of these; CPU time is disturbed by other load on the machine
    /// too, though less than the rate.
    /// </summary>
    private static (double Rate, double CpuMicrosecondsPerRequest, double BytesPerRequest, long MethodsCompiled) H2Load(
        ILoadServer server, string path, string bodyFile, string contentType, int connections, int streams, int requests, string? cpus)
    {
        var start = new ProcessStartInfo(cpus is null ? "h2load" : "taskset")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (cpus is not null)
        {
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(cpus);
            start.ArgumentList.Add("h2load");
        }

        foreach (var argument in new[]
        {
            "-c", connections.ToString(CultureInfo.InvariantCulture), "-m", streams.ToString(CultureInfo.InvariantCulture),
            "-n", requests.ToString(CultureInfo.InvariantCulture),
            "-d", bodyFile, "-H", "content-type: " + contentType, "-H", "te: trailers", new Uri(server.Address, path).ToString(),
        })
        {
            start.ArgumentList.Add(argument);
        }

        var before = server.Read();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("h2load did not start; install nghttp2-client.");
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var after = server.Read();
        // h2load counts a 4xx answer as "failed": every answer must be of the scenario's class and none may error.
        var match = Regex.Match(output, @"finished in [^,]+, ([0-9.]+) req/s");
        var done = Regex.Match(output, @"requests: .* ([0-9]+) done, [0-9]+ succeeded, [0-9]+ failed, ([0-9]+) errored, ([0-9]+) timeout");
        var codes = Regex.Match(output, @"status codes: ([0-9]+) 2xx, [0-9]+ 3xx, ([0-9]+) 4xx");
        var expected = contentType == "application/grpc" ? 1 : 2;
        if (!match.Success || !done.Success || !codes.Success || done.Groups[2].Value != "0" || done.Groups[3].Value != "0"
            || codes.Groups[expected].Value != done.Groups[1].Value)
        {
            throw new InvalidOperationException("h2load did not finish cleanly:" + Environment.NewLine + output);
        }

        return (
            double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture),
            (after.Cpu - before.Cpu).TotalMicroseconds / requests,
            (double)(after.AllocatedBytes - before.AllocatedBytes) / requests,
            after.MethodsCompiled - before.MethodsCompiled);
    }

    private static byte[] GrpcFrame(IMessage message)
    {
        var payload = message.ToByteArray();
        var frame = new byte[5 + payload.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), payload.Length);
        payload.CopyTo(frame, 5);
        return frame;
    }

    private static string WriteTemp(byte[] bytes)
    {
        var path = Path.GetTempFileName();
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static void Expect(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException("Load run set-up failed: " + what + ".");
        }
    }

    /// <summary>The body of <c>POST /orders</c>.</summary>
    public sealed record Order(string Item, int Quantity);
}
