using Grpc.Core;
using Mesh.AspNetCore.Resilience.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>The breaker's state machine on its own, driven by a fake clock.</summary>
public sealed class ServiceCircuitBreakerTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly List<(CircuitState From, CircuitState To)> _transitions = [];

    private ServiceCircuitBreaker Create() => new("inventory-service", _time, (_, t) => _transitions.Add((t.From, t.To)));

    private static CircuitBreakerSettings Settings(int failures = 3, int successes = 2, int timeoutMs = 30_000) =>
        new(new CircuitBreakerOptions { FailureThreshold = failures, SuccessThreshold = successes, Timeout = timeoutMs });

    private void Fail(ServiceCircuitBreaker breaker, CircuitBreakerSettings settings)
    {
        Assert.True(breaker.TryEnter(_time, settings, out var ticket, out _, out _));
        breaker.Complete(_time, ticket, AttemptResult.Failure, StatusCode.Unavailable, settings);
    }

    [Fact]
    public void Breaker_FullCycle_ReportsEveryTransitionOnce()
    {
        var breaker = Create();
        var settings = Settings();

        for (var i = 0; i < 3; i++)
        {
            Fail(breaker, settings);
        }

        Assert.False(breaker.TryEnter(_time, settings, out _, out var retryAfter, out _));
        Assert.Equal(TimeSpan.FromSeconds(30), retryAfter);
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(CircuitState.HalfOpen, breaker.State);
        for (var i = 0; i < 2; i++)
        {
            Assert.True(breaker.TryEnter(_time, settings, out var ticket, out _, out _));
            breaker.Complete(_time, ticket, AttemptResult.Success, StatusCode.OK, settings);
        }

        Assert.Equal(CircuitState.Closed, breaker.State);
        Assert.Equal(
            [(CircuitState.Closed, CircuitState.Open), (CircuitState.Open, CircuitState.HalfOpen), (CircuitState.HalfOpen, CircuitState.Closed)],
            _transitions);
    }

    [Fact]
    public void Breaker_OutcomeOfACallAdmittedBeforeItOpened_IsIgnored()
    {
        var breaker = Create();
        var settings = Settings(failures: 1, successes: 1);
        Assert.True(breaker.TryEnter(_time, settings, out var slowCall, out _, out _));
        Fail(breaker, settings);
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(breaker.TryEnter(_time, settings, out var trial, out _, out _));

        // The slow call from the closed period succeeding must not close the breaker: only trial calls do.
        breaker.Complete(_time, slowCall, AttemptResult.Success, StatusCode.OK, settings);
        Assert.Equal(CircuitState.HalfOpen, breaker.State);
        breaker.Complete(_time, trial, AttemptResult.Success, StatusCode.OK, settings);
        Assert.Equal(CircuitState.Closed, breaker.State);
    }

    [Fact]
    public void Breaker_NeutralTrial_FreesItsSlotWithoutCounting()
    {
        var breaker = Create();
        var settings = Settings(failures: 1, successes: 1);
        Fail(breaker, settings);
        _time.Advance(TimeSpan.FromSeconds(30));

        Assert.True(breaker.TryEnter(_time, settings, out var cancelled, out _, out _));
        Assert.False(breaker.TryEnter(_time, settings, out _, out _, out _));
        breaker.Complete(_time, cancelled, AttemptResult.Neutral, StatusCode.Cancelled, settings);

        Assert.Equal(CircuitState.HalfOpen, breaker.State);
        Assert.True(breaker.TryEnter(_time, settings, out _, out _, out _));
    }

    [Fact]
    public async Task Breaker_HalfOpenUnderParallelAdmissions_AdmitsExactlySuccessThreshold()
    {
        var breaker = Create();
        var settings = Settings(failures: 1, successes: 4);
        Fail(breaker, settings);
        _time.Advance(TimeSpan.FromSeconds(30));
        using var start = new ManualResetEventSlim();

        var admissions = Enumerable.Range(0, 64)
            .Select(i => Task.Run(() =>
            {
                start.Wait(TestContext.Current.CancellationToken);
                return breaker.TryEnter(_time, settings, out _, out _, out _);
            }, TestContext.Current.CancellationToken))
            .ToList();
        start.Set();
        var admitted = await Task.WhenAll(admissions);

        Assert.Equal(4, admitted.Count(a => a));
    }
}
