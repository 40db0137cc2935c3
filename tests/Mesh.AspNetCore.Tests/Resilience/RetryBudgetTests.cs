using Mesh.AspNetCore.Resilience.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>The sliding-window retry budget of one service, on a fake clock.</summary>
public sealed class RetryBudgetTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void TryWithdraw_QuietClient_AllowsMinRetriesPerSecondOverTheWindowThenRefuses()
    {
        var budget = Budget(ratio: 0.2, minPerSecond: 2, windowMs: 10_000);

        var allowed = WithdrawAll(budget, out var refusal);

        Assert.Equal(20, allowed); // 2 per second over 10 s
        Assert.Equal(RetryBudgetDecision.RefusedFirstInWindow, refusal);
        Assert.Equal(RetryBudgetDecision.Refused, budget.TryWithdraw(Now));
    }

    [Fact]
    public void TryWithdraw_AfterCalls_AllowsRetryRatioOfThem()
    {
        var budget = Budget(ratio: 0.2, minPerSecond: 0, windowMs: 10_000);
        for (var i = 0; i < 100; i++)
        {
            budget.Deposit(Now);
        }

        Assert.Equal(20, WithdrawAll(budget));
    }

    [Fact]
    public void TryWithdraw_NoCallsAndNoAllowance_RefusesTheFirstRetry()
    {
        var budget = Budget(ratio: 0.2, minPerSecond: 0, windowMs: 10_000);
        budget.Deposit(Now); // one call is a fifth of a retry

        Assert.NotEqual(RetryBudgetDecision.Allowed, budget.TryWithdraw(Now));
    }

    [Fact]
    public void TryWithdraw_SpentBudget_RefillsAsTheWindowSlidesPastTheRetries()
    {
        var budget = Budget(ratio: 0.2, minPerSecond: 1, windowMs: 10_000);
        Assert.Equal(10, WithdrawAll(budget));

        _time.Advance(TimeSpan.FromMilliseconds(9_000));
        Assert.NotEqual(RetryBudgetDecision.Allowed, budget.TryWithdraw(Now)); // the retries are still in the window

        _time.Advance(TimeSpan.FromMilliseconds(1_000));
        Assert.Equal(10, WithdrawAll(budget)); // a whole window later they have left it
    }

    [Fact]
    public void TryWithdraw_CallsOlderThanTheWindow_NoLongerCount()
    {
        var budget = Budget(ratio: 0.5, minPerSecond: 0, windowMs: 10_000);
        for (var i = 0; i < 10; i++)
        {
            budget.Deposit(Now);
        }

        _time.Advance(TimeSpan.FromMilliseconds(5_000));
        Assert.Equal(5, budget.Available(Now), 3);

        _time.Advance(TimeSpan.FromMilliseconds(5_000));
        Assert.Equal(0, budget.Available(Now), 3);
        Assert.NotEqual(RetryBudgetDecision.Allowed, budget.TryWithdraw(Now));
    }

    [Fact]
    public void TryWithdraw_LongIdle_StartsFromTheAllowanceAgain()
    {
        var budget = Budget(ratio: 0.2, minPerSecond: 1, windowMs: 10_000);
        WithdrawAll(budget);

        _time.Advance(TimeSpan.FromHours(5));

        Assert.Equal(10, budget.Available(Now), 3);
    }

    [Fact]
    public void TryWithdraw_SpentAgainAfterAWindow_ReportsTheFirstRefusalAgain()
    {
        var budget = Budget(ratio: 0.2, minPerSecond: 1, windowMs: 10_000);
        WithdrawAll(budget, out var first);
        Assert.Equal(RetryBudgetDecision.RefusedFirstInWindow, first);

        _time.Advance(TimeSpan.FromMilliseconds(5_000));
        Assert.Equal(RetryBudgetDecision.Refused, budget.TryWithdraw(Now));

        _time.Advance(TimeSpan.FromMilliseconds(5_000));
        Assert.Equal(10, WithdrawAll(budget, out var again));
        Assert.Equal(RetryBudgetDecision.RefusedFirstInWindow, again);
    }

    [Fact]
    public void TryWithdraw_BudgetDisabled_AlwaysAllows()
    {
        var options = new RetryOptions { Budget = new RetryBudgetOptions { Enabled = false, MinRetriesPerSecond = 0 } };
        var budget = new RetryBudget("inventory-service", options, _time);

        for (var i = 0; i < 1_000; i++)
        {
            Assert.Equal(RetryBudgetDecision.Allowed, budget.TryWithdraw(Now));
        }
    }

    [Fact]
    public void Configure_NewRatio_KeepsWhatTheWindowHolds()
    {
        var budget = Budget(ratio: 0.2, minPerSecond: 0, windowMs: 10_000);
        for (var i = 0; i < 50; i++)
        {
            budget.Deposit(Now);
        }

        budget.Configure(new RetryOptions { Budget = new RetryBudgetOptions { RetryRatio = 0.5, MinRetriesPerSecond = 0, WindowMs = 10_000 } });
        budget.Deposit(Now);
        budget.Deposit(Now);

        Assert.Equal(11, budget.Available(Now), 3); // 50 calls at 0.2, then 2 at 0.5
    }

    [Fact]
    public async Task TryWithdraw_ConcurrentRetries_NeverOverdrawTheBudget()
    {
        var budget = Budget(ratio: 0.2, minPerSecond: 0, windowMs: 10_000);
        var allowed = 0;

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(
            () =>
            {
                for (var i = 0; i < 10_000; i++)
                {
                    budget.Deposit(Now);
                    if (budget.TryWithdraw(Now) == RetryBudgetDecision.Allowed)
                    {
                        Interlocked.Increment(ref allowed);
                    }
                }
            },
            TestContext.Current.CancellationToken)));

        Assert.True(allowed <= 80_000 / 5, $"{allowed} retries overdrew a budget of {80_000 / 5}");
        Assert.True(allowed >= (80_000 / 5) - 10, $"{allowed} retries left most of the budget unused");
    }

    private long Now => _time.GetTimestamp();

    private RetryBudget Budget(double ratio, int minPerSecond, int windowMs) => new(
        "inventory-service",
        new RetryOptions { Budget = new RetryBudgetOptions { RetryRatio = ratio, MinRetriesPerSecond = minPerSecond, WindowMs = windowMs } },
        _time);

    private int WithdrawAll(RetryBudget budget) => WithdrawAll(budget, out _);

    /// <summary>Takes retries until the budget refuses one; returns how many it allowed and that refusal.</summary>
    private int WithdrawAll(RetryBudget budget, out RetryBudgetDecision refusal)
    {
        var allowed = 0;
        while ((refusal = budget.TryWithdraw(Now)) == RetryBudgetDecision.Allowed)
        {
            allowed++;
            Assert.True(allowed <= 1_000_000, "the budget never ran dry");
        }

        return allowed;
    }
}
