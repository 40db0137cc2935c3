using System.Collections.Concurrent;
using Grpc.Core;
using Mesh.AspNetCore.Tests.Protos;

namespace Mesh.AspNetCore.Tests.Reliability;

/// <summary>One logical call of a <see cref="SteadyLoad"/>: how it ended and when, on the real clock.</summary>
public readonly record struct CallRecord(StatusCode Status, string? Detail, long Started, long Ended)
{
    public TimeSpan Duration => CallTimeline.Clock.GetElapsedTime(Started, Ended);
}

/// <summary>
/// Concurrent callers that each make a unary call, await its end, and start the next one on the next tick of their
/// own real-time <see cref="PeriodicTimer"/> (a steady rate, not a busy loop when calls fail at once), until stopped.
/// Every call gets a deadline. Any exception other than an <see cref="RpcException"/> ends its caller and fails
/// <see cref="StopAsync"/>.
/// </summary>
public sealed class SteadyLoad
{
    private readonly ConcurrentQueue<CallRecord> _calls = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _callers;
    private int _started;

    private SteadyLoad(Echo.EchoClient client, int callers, TimeSpan period, TimeSpan deadline) =>
        _callers = [.. Enumerable.Range(0, callers).Select(_ => Task.Run(() => CallerAsync(client, period, deadline)))];

    /// <summary>Logical calls started so far.</summary>
    public int Started => Volatile.Read(ref _started);

    public IReadOnlyCollection<CallRecord> Calls => _calls;

    public static SteadyLoad Start(Echo.EchoClient client, int callers, TimeSpan period, TimeSpan deadline) =>
        new(client, callers, period, deadline);

    /// <summary>Lets every caller finish the call it is in, then stops; fails if a caller does not end within <paramref name="timeout"/>.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_callers).WaitAsync(timeout, TestContext.Current.CancellationToken);
        _stop.Dispose();
    }

    private async Task CallerAsync(Echo.EchoClient client, TimeSpan period, TimeSpan deadline)
    {
        using var timer = new PeriodicTimer(period, CallTimeline.Clock);
        var request = new EchoRequest { Text = "load" };
        while (!_stop.IsCancellationRequested)
        {
            Interlocked.Increment(ref _started);
            var started = CallTimeline.Clock.GetTimestamp();
            StatusCode status;
            string? detail = null;
            try
            {
                await client.SayAsync(request, deadline: DateTime.UtcNow + deadline, cancellationToken: TestContext.Current.CancellationToken);
                status = StatusCode.OK;
            }
            catch (RpcException ex)
            {
                status = ex.StatusCode;
                detail = ex.Status.Detail;
            }

            _calls.Enqueue(new CallRecord(status, detail, started, CallTimeline.Clock.GetTimestamp()));
            try
            {
                await timer.WaitForNextTickAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
