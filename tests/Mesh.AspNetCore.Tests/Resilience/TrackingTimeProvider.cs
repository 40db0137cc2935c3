using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>
/// A <see cref="FakeTimeProvider"/> (starting at the real current time, so gRPC deadlines line up) that reports every
/// timer created on it, so a test can wait until a backoff delay is pending before advancing the clock.
/// </summary>
public sealed class TrackingTimeProvider() : FakeTimeProvider(DateTimeOffset.UtcNow)
{
    private readonly Channel<PendingTimer> _timers = Channel.CreateUnbounded<PendingTimer>();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var pending = new PendingTimer(dueTime);
        var timer = base.CreateTimer(
            s =>
            {
                pending.Fired = true;
                callback(s);
            },
            state,
            dueTime,
            period);
        _timers.Writer.TryWrite(pending);
        return timer;
    }

    /// <summary>Waits for the next timer (such as a retry delay) to be created.</summary>
    public async Task<PendingTimer> NextTimerAsync()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        return await _timers.Reader.ReadAsync(timeout.Token);
    }

    /// <summary>Whether a timer was created that no test has taken yet.</summary>
    public bool HasPendingTimer => _timers.Reader.Count > 0;

    /// <summary>
    /// Lets <paramref name="call"/> run to its end, advancing the clock by each retry delay as soon as it is pending.
    /// Returns the delays in order.
    /// </summary>
    public async Task<List<TimeSpan>> DriveAsync(Task call)
    {
        var delays = new List<TimeSpan>();
        while (true)
        {
            var timerReady = _timers.Reader.WaitToReadAsync(TestContext.Current.CancellationToken).AsTask();
            var first = await Task.WhenAny(call, timerReady).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
            if (_timers.Reader.TryRead(out var timer))
            {
                delays.Add(timer.DueTime);
                Advance(timer.DueTime);
                continue;
            }

            if (first == call)
            {
                return delays;
            }
        }
    }
}

public sealed class PendingTimer(TimeSpan dueTime)
{
    public TimeSpan DueTime { get; } = dueTime;

    public volatile bool Fired;
}
