namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>
/// The retry budget of one target service: every call deposits <c>RetryRatio</c> of a retry, every retry withdraws
/// one, and a retry is allowed while the deposits and withdrawals of the last <c>WindowMs</c>, plus a reserve of
/// <c>MinRetriesPerSecond * WindowMs</c>, leave at least one retry. The window slides in
/// <see cref="RetryBudgetConstants.Buckets"/> steps, as in tower's and Linkerd's budgets.
/// </summary>
/// <remarks>
/// A deposit (every call) is one interlocked add into the current bucket, allocation-free; it takes the lock only when
/// the window moves on, once per bucket. A withdrawal (a retry about to be made) sums the buckets under the lock, so
/// that concurrent retries never overdraw the budget. Amounts are thousandths of a retry.
/// </remarks>
internal sealed class RetryBudget
{
    private readonly long[] _buckets = new long[RetryBudgetConstants.Buckets];
    private readonly Lock _lock = new();
    private readonly double _ticksPerMillisecond;
    private Settings _settings;
    private int _index;
    private long _bucketStart;
    private long _dryReportedAt;
    private bool _dryReported;

    public RetryBudget(string serviceId, RetryOptions options, TimeProvider timeProvider)
    {
        ServiceId = serviceId;
        _ticksPerMillisecond = timeProvider.TimestampFrequency / 1000.0;
        _bucketStart = timeProvider.GetTimestamp();
        _settings = ToSettings(options);
    }

    public string ServiceId { get; }

    /// <summary>Whether the budget limits retries (retries and the budget are both on).</summary>
    public bool IsEnabled => Volatile.Read(ref _settings).Enabled;

    /// <summary>Applies reloaded options. What the window holds is kept: only later calls and retries see the new values.</summary>
    public void Configure(RetryOptions options) => Volatile.Write(ref _settings, ToSettings(options));

    /// <summary>A call was made at <paramref name="timestamp"/> (a <see cref="TimeProvider.GetTimestamp"/> reading).</summary>
    public void Deposit(long timestamp)
    {
        var settings = Volatile.Read(ref _settings);
        if (settings.Deposit == 0)
        {
            return;
        }

        if (timestamp - Volatile.Read(ref _bucketStart) >= settings.BucketTicks)
        {
            lock (_lock)
            {
                Slide(timestamp, settings);
            }
        }

        Interlocked.Add(ref _buckets[Volatile.Read(ref _index)], settings.Deposit);
    }

    /// <summary>Takes one retry from the budget at <paramref name="timestamp"/>, unless the budget is spent.</summary>
    public RetryBudgetDecision TryWithdraw(long timestamp)
    {
        var settings = Volatile.Read(ref _settings);
        if (!settings.Enabled)
        {
            return RetryBudgetDecision.Allowed;
        }

        lock (_lock)
        {
            Slide(timestamp, settings);
            var available = settings.Reserve;
            foreach (ref var bucket in _buckets.AsSpan())
            {
                available += Volatile.Read(ref bucket);
            }

            if (available >= RetryBudgetConstants.Scale)
            {
                Interlocked.Add(ref _buckets[_index], -RetryBudgetConstants.Scale);
                return RetryBudgetDecision.Allowed;
            }

            // The first refusal in a window is reported louder than the ones that follow it.
            if (_dryReported && timestamp - _dryReportedAt < settings.BucketTicks * RetryBudgetConstants.Buckets)
            {
                return RetryBudgetDecision.Refused;
            }

            _dryReported = true;
            _dryReportedAt = timestamp;
            return RetryBudgetDecision.RefusedFirstInWindow;
        }
    }

    /// <summary>The retries the budget would allow now; for tests and diagnostics.</summary>
    public double Available(long timestamp)
    {
        var settings = Volatile.Read(ref _settings);
        lock (_lock)
        {
            Slide(timestamp, settings);
            var available = settings.Reserve;
            foreach (var bucket in _buckets)
            {
                available += bucket;
            }

            return (double)available / RetryBudgetConstants.Scale;
        }
    }

    /// <summary>Moves the window on to <paramref name="timestamp"/>: the buckets it left behind are emptied. Holds the lock.</summary>
    private void Slide(long timestamp, Settings settings)
    {
        var elapsed = timestamp - _bucketStart;
        if (elapsed < settings.BucketTicks)
        {
            return;
        }

        var steps = elapsed / settings.BucketTicks;
        var cleared = (int)Math.Min(steps, RetryBudgetConstants.Buckets);
        var index = _index;
        for (var i = 1; i <= cleared; i++)
        {
            Volatile.Write(ref _buckets[(index + i) % RetryBudgetConstants.Buckets], 0);
        }

        Volatile.Write(ref _index, (index + cleared) % RetryBudgetConstants.Buckets);
        Volatile.Write(ref _bucketStart, _bucketStart + (steps * settings.BucketTicks));
    }

    private Settings ToSettings(RetryOptions options)
    {
        var budget = options.Budget;
        var enabled = options.Enabled && options.MaxAttempts > 0 && budget.Enabled;
        var bucketTicks = Math.Max(1, (long)(budget.WindowMs * _ticksPerMillisecond / RetryBudgetConstants.Buckets));
        return enabled
            ? new Settings(
                Enabled: true,
                Deposit: (long)Math.Round(budget.RetryRatio * RetryBudgetConstants.Scale),
                Reserve: (long)budget.MinRetriesPerSecond * budget.WindowMs * RetryBudgetConstants.Scale / 1000,
                BucketTicks: bucketTicks)
            : new Settings(Enabled: false, Deposit: 0, Reserve: 0, BucketTicks: bucketTicks);
    }

    private sealed record Settings(bool Enabled, long Deposit, long Reserve, long BucketTicks);
}

/// <summary>Whether the budget allowed a retry; a refusal says whether it is the first since the budget last ran dry.</summary>
internal enum RetryBudgetDecision
{
    Allowed,
    Refused,
    RefusedFirstInWindow,
}
