using System.Diagnostics.Metrics;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.ClientFactory;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Reliability;

/// <summary>What happened, in the order it happened, on the real clock.</summary>
public enum TimelineEvent
{
    /// <summary>An attempt left the resilience pipeline for the network.</summary>
    AttemptStarted,

    /// <summary>An attempt ended with OK.</summary>
    AttemptSucceeded,

    /// <summary>An attempt ended with an error status.</summary>
    AttemptFailed,

    /// <summary>The breaker moved to open.</summary>
    Opened,

    /// <summary>The breaker moved to half-open.</summary>
    HalfOpened,

    /// <summary>The breaker moved to closed.</summary>
    Closed,

    /// <summary>A point the test marked, such as "the server is stopping".</summary>
    Mark,
}

public readonly record struct TimelineEntry(int Index, TimelineEvent Event, long Timestamp, StatusCode Status, string? Note);

/// <summary>
/// A single ordered record of a mesh client's attempts (seen by an interceptor placed inside the resilience pipeline,
/// so every retry and every trial call is an attempt) and of its breaker's transitions (seen synchronously through the
/// <c>mesh.circuit_breaker.transitions</c> instrument), with a signal on every entry.
/// </summary>
public sealed class CallTimeline : IDisposable
{
    private readonly Lock _lock = new();
    private readonly List<TimelineEntry> _entries = [];
    private MeterListener? _listener;
    private TaskCompletionSource _changed = NewSignal();

    public static TimeProvider Clock => TimeProvider.System;

    /// <summary>
    /// Adds an interceptor to the mesh client <typeparamref name="TClient"/> that records its attempts. It is registered
    /// after <c>AddClient</c>'s own interceptors, so it sits inside them: it sees each attempt, not each logical call.
    /// </summary>
    public void RecordAttemptsOf<TClient>(IServiceCollection services) =>
        services.Configure<GrpcClientFactoryOptions>(
            typeof(TClient).Name,
            o => o.InterceptorRegistrations.Add(new InterceptorRegistration(InterceptorScope.Channel, _ => new AttemptInterceptor(this))));

    /// <summary>Records the breaker transitions of the application whose meter factory is <paramref name="services"/>'.</summary>
    public void RecordTransitionsOf(IServiceProvider services)
    {
        var factory = services.GetRequiredService<IMeterFactory>();
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Scope == factory && instrument.Name == MeshMetrics.CircuitBreakerTransitionsName)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            string? from = null, to = null;
            foreach (var tag in tags)
            {
                if (tag.Key == MeshMetrics.FromStateTag)
                {
                    from = (string?)tag.Value;
                }
                else if (tag.Key == MeshMetrics.ToStateTag)
                {
                    to = (string?)tag.Value;
                }
            }

            var what = to switch
            {
                "open" => TimelineEvent.Opened,
                "half_open" => TimelineEvent.HalfOpened,
                _ => TimelineEvent.Closed,
            };
            Add(what, StatusCode.OK, from);
        });
        _listener.Start();
    }

    public TimelineEntry Mark(string note) => Add(TimelineEvent.Mark, StatusCode.OK, note);

    public IReadOnlyList<TimelineEntry> Snapshot()
    {
        lock (_lock)
        {
            return [.. _entries];
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds for the entries recorded so far, re-checking on every new entry.</summary>
    public async Task<IReadOnlyList<TimelineEntry>> WaitUntilAsync(Func<IReadOnlyList<TimelineEntry>, bool> condition, string what, TimeSpan timeout)
    {
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cancellation.CancelAfter(timeout);
        while (true)
        {
            Task changed;
            IReadOnlyList<TimelineEntry> entries;
            lock (_lock)
            {
                changed = _changed.Task;
                entries = [.. _entries];
            }

            if (condition(entries))
            {
                return entries;
            }

            try
            {
                await changed.WaitAsync(cancellation.Token);
            }
            catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
            {
                Assert.Fail($"Timed out after {timeout} waiting for: {what}. Timeline: {Describe(entries)}");
            }
        }
    }

    /// <summary>The timeline from the first mark on, for assertion messages: attempts as +, ok, failed; transitions and marks by name.</summary>
    public static string Describe(IReadOnlyList<TimelineEntry> entries)
    {
        var start = entries.FirstOrDefault(e => e.Event == TimelineEvent.Mark);
        return string.Join(" ", entries.Where(e => e.Index >= start.Index).Select(e => e.Event switch
        {
            TimelineEvent.AttemptStarted => "+",
            TimelineEvent.AttemptSucceeded => "ok",
            TimelineEvent.AttemptFailed => $"{e.Status}({e.Note})",
            TimelineEvent.Mark => $"[{e.Note} at {Clock.GetElapsedTime(start.Timestamp, e.Timestamp).TotalMilliseconds:0} ms]",
            _ => $"[{e.Event} from {e.Note} at {Clock.GetElapsedTime(start.Timestamp, e.Timestamp).TotalMilliseconds:0} ms]",
        }));
    }

    public void Dispose() => _listener?.Dispose();

    private TimelineEntry Add(TimelineEvent what, StatusCode status, string? note)
    {
        TaskCompletionSource changed;
        TimelineEntry entry;
        lock (_lock)
        {
            entry = new TimelineEntry(_entries.Count, what, Clock.GetTimestamp(), status, note);
            _entries.Add(entry);
            changed = _changed;
            _changed = NewSignal();
        }

        changed.TrySetResult();
        return entry;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed class AttemptInterceptor(CallTimeline timeline) : Interceptor
    {
        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
            TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
        {
            timeline.Add(TimelineEvent.AttemptStarted, StatusCode.OK, null);
            var call = continuation(request, context);
            return new AsyncUnaryCall<TResponse>(
                ObserveAsync(call.ResponseAsync),
                call.ResponseHeadersAsync,
                call.GetStatus,
                call.GetTrailers,
                call.Dispose);
        }

        private async Task<TResponse> ObserveAsync<TResponse>(Task<TResponse> response)
        {
            try
            {
                var result = await response;
                timeline.Add(TimelineEvent.AttemptSucceeded, StatusCode.OK, null);
                return result;
            }
            catch (RpcException ex)
            {
                timeline.Add(TimelineEvent.AttemptFailed, ex.StatusCode, ex.Status.Detail);
                throw;
            }
        }
    }
}
