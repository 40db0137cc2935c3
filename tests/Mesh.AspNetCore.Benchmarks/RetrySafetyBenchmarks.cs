using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Grpc.Core;
using Mesh.AspNetCore.Benchmarks.Protos;
using Mesh.AspNetCore.Discovery.Internal;
using Mesh.AspNetCore.Resilience.Internal;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// Safe retries, in-process: what the retry budget adds to every call (a deposit at the call's start, whose timestamp
/// the interceptor reads anyway), and what a failed attempt adds (the idempotency decision, the never-reached-a-handler
/// check, the budget's withdrawal). Baseline: reading the clock, the work the interceptor does without a budget. Goal:
/// the per-call work adds at most 50 ns and allocates nothing.
/// </summary>
[MemoryDiagnoser]
public class RetrySafetyBenchmarks
{
    private readonly TimeProvider _time = TimeProvider.System;
    private RetryBudget _budget = null!;
    private RetryBudget _budgetOff = null!;
    private RetryBudget _bottomless = null!;
    private IdempotencyPolicy _policy = null!;
    private MeshCallInfo _call = null!;
    private RpcException _handlerFailure = null!;
    private RpcException _refused = null!;

    [GlobalSetup]
    public void Setup()
    {
        _budget = new RetryBudget("bench-service", new RetryOptions(), _time);
        _budgetOff = new RetryBudget("bench-service", new RetryOptions { Budget = new RetryBudgetOptions { Enabled = false } }, _time);
        _bottomless = new RetryBudget(
            "bench-service",
            new RetryOptions { Budget = new RetryBudgetOptions { MinRetriesPerSecond = 1_000_000, WindowMs = 600_000 } },
            _time);
        _policy = new IdempotencyPolicy(new DeclaredIdempotency([new MeshClientRegistration(typeof(Bench.BenchClient), "bench-service")]), ["other.Service/*"]);
        _call = new FailedCall("/mesh.benchmarks.Bench/Ping", new PingRequest());
        _policy.IsIdempotent(_call);
        _handlerFailure = new RpcException(new Status(StatusCode.Unavailable, "failed in the handler"));
        _refused = new RpcException(new Status(StatusCode.Unavailable, "Error connecting to subchannel.", new SocketException((int)SocketError.ConnectionRefused)));
    }

    [Benchmark(Baseline = true, Description = "Call start without a budget: read the clock")]
    public long ReadClock() => _time.GetTimestamp();

    [Benchmark(Description = "Call start with the budget: read the clock, deposit")]
    public long Deposit()
    {
        var now = _time.GetTimestamp();
        _budget.Deposit(now);
        return now;
    }

    [Benchmark(Description = "Call start, budget off: read the clock, deposit nothing")]
    public long DepositBudgetOff()
    {
        var now = _time.GetTimestamp();
        _budgetOff.Deposit(now);
        return now;
    }

    [Benchmark(Description = "Failed attempt: OnlyIdempotent decision (cached) and never-reached-a-handler checks")]
    public bool Decide() =>
        _policy.IsIdempotent(_call) || UnhandledRequest.IsProven(_handlerFailure) || UnhandledRequest.IsProven(_refused);

    [Benchmark(Description = "Failed attempt: budget withdrawal for a retry")]
    public bool Withdraw() => _bottomless.TryWithdraw(_time.GetTimestamp()) == RetryBudgetDecision.Allowed;

    private sealed class FailedCall(string method, object request) : MeshCallInfo
    {
        public override string Method => method;

        public override DateTime? Deadline => null;

        public override bool CanRetry => true;

        public override object? Request => request;
    }
}
