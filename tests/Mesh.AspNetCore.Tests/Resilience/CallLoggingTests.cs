using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.ClientFactory;
using Mesh.AspNetCore.Tests.Infrastructure;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>
/// What a failing downstream writes to the logs of an application that logs at Information (the level of the ASP.NET
/// Core templates), every category captured: one line per failed attempt, none with a stack trace for a gRPC status,
/// and the call's failure once.
/// </summary>
public sealed class CallLoggingTests
{
    private const int CallAttemptFailed = 3201;
    private const int CallFailed = 3202;

    private static readonly EchoRequest Hello = new() { Text = "hello" };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task FailingCall_ThreeRetries_OneLinePerAttemptWithoutStackTraceAndTheCallsFailureOnce()
    {
        var serviceId = $"logs-{Guid.NewGuid():N}";
        using var pollyEvents = new PollyEvents("mesh-client:" + serviceId);
        await using var server = await EchoServer.StartAsync(new EchoScript { Say = EchoScript.FailWith(StatusCode.Unavailable) });
        await using var client = await StartClientAsync(serviceId, server.Port, """{ "Retry": { "MaxAttempts": 3, "InitialDelay": 1 }, "CircuitBreaker": { "Enabled": false } }""");
        var started = client.Logs.Entries.Count;

        var error = await Assert.ThrowsAsync<RpcException>(() => client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        var lines = client.Logs.Entries.Skip(started).ToList();
        Assert.Equal(4, lines.Count);
        Assert.All(lines, line =>
        {
            Assert.Equal(LogLevel.Warning, line.Level);
            Assert.Null(line.Exception);
            Assert.Contains(serviceId, line.Message, StringComparison.Ordinal);
            Assert.Contains("/mesh.tests.Echo/Say", line.Message, StringComparison.Ordinal);
            Assert.Contains("Unavailable", line.Message, StringComparison.Ordinal);
        });
        Assert.Equal([CallAttemptFailed, CallAttemptFailed, CallAttemptFailed, CallFailed], lines.Select(l => l.EventId.Id));
        Assert.StartsWith("Attempt 1 of ", lines[0].Message, StringComparison.Ordinal);
        Assert.Contains("retrying in 1 ms", lines[0].Message, StringComparison.Ordinal);
        Assert.StartsWith("Attempt 3 of ", lines[2].Message, StringComparison.Ordinal);
        Assert.Contains("retrying in 4 ms", lines[2].Message, StringComparison.Ordinal);
        Assert.EndsWith("after 4 attempt(s).", lines[3].Message, StringComparison.Ordinal);

        // Polly's own lines are gone from the logs, not from its meter.
        Assert.Equal(3, pollyEvents.Events("OnRetry"));
        Assert.Equal(4, pollyEvents.Attempts);
    }

    [Fact]
    public async Task FailingCall_NothingListensOnThePort_OneLinePerAttemptWithoutTheConnectionErrorsStackTrace()
    {
        // A bound socket that does not listen: connections to its port are refused, and no other process can take it.
        using var closed = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        closed.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await using var client = await StartClientAsync(
            "inventory-service", ((IPEndPoint)closed.LocalEndPoint!).Port, """{ "Retry": { "MaxAttempts": 1, "InitialDelay": 1 }, "CircuitBreaker": { "Enabled": false } }""");
        var started = client.Logs.Entries.Count;

        var error = await Assert.ThrowsAsync<RpcException>(() => client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        var lines = client.Logs.Entries.Skip(started).ToList();
        Assert.Equal([CallAttemptFailed, CallFailed], lines.Select(l => l.EventId.Id));
        Assert.All(lines, line => Assert.Null(line.Exception));
    }

    [Fact]
    public async Task RetriedCall_SecondAttemptSucceeds_OneLineForTheFailedAttemptOnly()
    {
        await using var server = await EchoServer.StartAsync(new EchoScript { Say = EchoScript.FailFirst(1, StatusCode.Unavailable) });
        await using var client = await StartClientAsync("inventory-service", server.Port, """{ "Retry": { "InitialDelay": 1 } }""");
        var started = client.Logs.Entries.Count;

        var reply = await client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct);

        Assert.Equal("hello", reply.Text);
        var line = Assert.Single(client.Logs.Entries.Skip(started));
        Assert.Equal(CallAttemptFailed, line.EventId.Id);
        Assert.Equal(LogLevel.Warning, line.Level);
        Assert.Null(line.Exception);
    }

    [Fact]
    public async Task SuccessfulCalls_AtInformation_LogNothing()
    {
        await using var server = await EchoServer.StartAsync(new EchoScript());
        await using var client = await StartClientAsync("inventory-service", server.Port, "{}");
        var started = client.Logs.Entries.Count;

        for (var i = 0; i < 3; i++)
        {
            await client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct);
        }

        // Neither IHttpClientFactory's "Start processing HTTP request" lines nor Polly's "Resilience pipeline executed".
        Assert.Empty(client.Logs.Entries.Skip(started));
    }

    [Fact]
    public async Task FailedCall_AnswerThatIsNotAServiceFailure_LogsNothingAtInformation()
    {
        await using var server = await EchoServer.StartAsync(new EchoScript { Say = EchoScript.FailWith(StatusCode.NotFound) });
        await using var client = await StartClientAsync("inventory-service", server.Port, "{}");
        var started = client.Logs.Entries.Count;

        var error = await Assert.ThrowsAsync<RpcException>(() => client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Empty(client.Logs.Entries.Skip(started));
    }

    [Fact]
    public async Task FailedCall_DeadlineExceeded_OneLineForTheCall()
    {
        var script = new EchoScript { Say = static (_, context) => Task.Delay(Timeout.Infinite, context.CancellationToken).ContinueWith(_ => new EchoReply(), TaskScheduler.Default) };
        await using var server = await EchoServer.StartAsync(script);
        await using var client = await StartClientAsync("inventory-service", server.Port, "{}");
        var started = client.Logs.Entries.Count;

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            client.Get<InventoryClient>().SayAsync(Hello, deadline: DateTime.UtcNow.AddMilliseconds(200), cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        var line = Assert.Single(client.Logs.Entries.Skip(started));
        Assert.Equal(CallFailed, line.EventId.Id);
        Assert.Contains("DeadlineExceeded", line.Message, StringComparison.Ordinal);
        Assert.EndsWith("after 1 attempt(s).", line.Message, StringComparison.Ordinal);
        Assert.Null(line.Exception);
    }

    [Fact]
    public async Task FailedCall_ExceptionThatIsNotAStatus_LoggedOnceWithItsStackTrace()
    {
        await using var server = await EchoServer.StartAsync(new EchoScript());
        await using var client = await StartClientAsync(
            "inventory-service",
            server.Port,
            "{}",
            services => services.Configure<GrpcClientFactoryOptions>(
                nameof(InventoryClient),
                o => o.InterceptorRegistrations.Add(new InterceptorRegistration(InterceptorScope.Channel, _ => new ThrowingInterceptor()))));
        var started = client.Logs.Entries.Count;

        await Assert.ThrowsAsync<InvalidOperationException>(() => client.Get<InventoryClient>().SayAsync(Hello, cancellationToken: Ct).ResponseAsync);

        var line = Assert.Single(client.Logs.Entries.Skip(started));
        Assert.Equal(CallFailed, line.EventId.Id);
        Assert.Equal(LogLevel.Warning, line.Level);
        Assert.IsType<InvalidOperationException>(line.Exception);
        Assert.NotNull(line.Exception.StackTrace);
    }

    private static Task<MeshClientHost> StartClientAsync(string serviceId, int port, string resilience, Action<IServiceCollection>? configure = null) =>
        MeshClientHost.StartAsync(
            $$"""
            { "Mesh": { "ServiceId": "order-service", "Resilience": {{resilience}},
              "Discovery": { "Services": [ { "Id": "{{serviceId}}", "Host": "127.0.0.1", "Port": {{port}} } ] } } }
            """,
            mesh =>
            {
                mesh.AddClient<InventoryClient>(serviceId);
                configure?.Invoke(mesh.Services);
            });

    /// <summary>Inside the mesh's interceptors: every attempt fails with an exception of the client's own making.</summary>
    private sealed class ThrowingInterceptor : Interceptor
    {
        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
            TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation) =>
            throw new InvalidOperationException("The request could not be prepared.");
    }

    /// <summary>Counts the events and the attempts of one pipeline on Polly's own meter.</summary>
    private sealed class PollyEvents : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<string?> _events = new();
        private int _attempts;

        public PollyEvents(string pipeline)
        {
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "Polly" && instrument.Name is "resilience.polly.strategy.events" or "resilience.polly.strategy.attempt.duration")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<int>((_, _, tags, _) =>
            {
                string? name = null;
                var ours = false;
                foreach (var tag in tags)
                {
                    name = tag.Key == "event.name" ? tag.Value as string : name;
                    ours |= tag.Key == "pipeline.name" && tag.Value as string == pipeline;
                }

                if (ours)
                {
                    _events.Enqueue(name);
                }
            });
            _listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "pipeline.name" && tag.Value as string == pipeline)
                    {
                        Interlocked.Increment(ref _attempts);
                    }
                }
            });
            _listener.Start();
        }

        /// <summary>Attempts measured by <c>resilience.polly.strategy.attempt.duration</c> (Polly's <c>ExecutionAttempt</c> event).</summary>
        public int Attempts => Volatile.Read(ref _attempts);

        public int Events(string eventName) => _events.Count(e => e == eventName);

        public void Dispose() => _listener.Dispose();
    }
}
