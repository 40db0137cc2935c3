using System.Collections.Concurrent;
using System.Threading.Channels;
using Grpc.Core;
using Mesh.AspNetCore.Tests.Infrastructure;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>What the scripted Echo service does and what it saw; each test sets the behaviour it needs.</summary>
public sealed class EchoScript(TimeProvider? clock = null)
{
    private readonly Channel<int> _arrivals = Channel.CreateUnbounded<int>();
    private int _calls;

    /// <summary>Calls that reached a handler (any method).</summary>
    public int Calls => Volatile.Read(ref _calls);

    /// <summary>The client's (fake) clock reading when each call reached the service.</summary>
    public ConcurrentQueue<DateTimeOffset> CallTimes { get; } = new();

    /// <summary>The <c>x-mesh-service-id</c> header of each call, or null when it had none.</summary>
    public ConcurrentQueue<string?> Callers { get; } = new();

    public Func<EchoRequest, ServerCallContext, Task<EchoReply>> Say { get; set; } = static (r, _) => Task.FromResult(new EchoReply { Text = r.Text });

    public Func<EchoRequest, IServerStreamWriter<EchoReply>, ServerCallContext, Task> ServerStream { get; set; } =
        static async (r, w, _) =>
        {
            for (var i = 0; i < Math.Max(1, r.Count); i++)
            {
                await w.WriteAsync(new EchoReply { Text = r.Text });
            }
        };

    public Func<IAsyncStreamReader<EchoRequest>, ServerCallContext, Task<EchoReply>> ClientStream { get; set; } =
        static async (reader, _) =>
        {
            var count = 0;
            while (await reader.MoveNext())
            {
                count++;
            }

            return new EchoReply { Text = count.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        };

    public Func<IAsyncStreamReader<EchoRequest>, IServerStreamWriter<EchoReply>, ServerCallContext, Task> Duplex { get; set; } =
        static async (reader, writer, _) =>
        {
            while (await reader.MoveNext())
            {
                await writer.WriteAsync(new EchoReply { Text = reader.Current.Text });
            }
        };

    internal void Arrived(ServerCallContext context)
    {
        CallTimes.Enqueue(clock?.GetUtcNow() ?? default);
        Callers.Enqueue(context.RequestHeaders.GetValue("x-mesh-service-id"));
        _arrivals.Writer.TryWrite(Interlocked.Increment(ref _calls));
    }

    /// <summary>Waits (on a signal, not a timer) until at least <paramref name="count"/> calls reached the service.</summary>
    public async Task WaitForCallsAsync(int count)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        while (Calls < count)
        {
            await _arrivals.Reader.ReadAsync(timeout.Token);
        }
    }

    public static Func<EchoRequest, ServerCallContext, Task<EchoReply>> FailWith(StatusCode status, Metadata? trailers = null) =>
        (_, _) => throw new RpcException(new Status(status, $"scripted {status}"), trailers ?? []);

    /// <summary>Fails the first <paramref name="failures"/> calls with <paramref name="status"/>, then echoes.</summary>
    public static Func<EchoRequest, ServerCallContext, Task<EchoReply>> FailFirst(int failures, StatusCode status)
    {
        var seen = 0;
        return (r, _) => Interlocked.Increment(ref seen) <= failures
            ? throw new RpcException(new Status(status, $"scripted {status}"))
            : Task.FromResult(new EchoReply { Text = r.Text });
    }
}

/// <summary>The Echo service of test.proto, doing what its <see cref="EchoScript"/> says.</summary>
public sealed class ScriptedEcho(EchoScript script) : Echo.EchoBase
{
    public override Task<EchoReply> Say(EchoRequest request, ServerCallContext context)
    {
        script.Arrived(context);
        return script.Say(request, context);
    }

    public override Task ServerStream(EchoRequest request, IServerStreamWriter<EchoReply> responseStream, ServerCallContext context)
    {
        script.Arrived(context);
        return script.ServerStream(request, responseStream, context);
    }

    public override Task<EchoReply> ClientStream(IAsyncStreamReader<EchoRequest> requestStream, ServerCallContext context)
    {
        script.Arrived(context);
        return script.ClientStream(requestStream, context);
    }

    public override Task Duplex(IAsyncStreamReader<EchoRequest> requestStream, IServerStreamWriter<EchoReply> responseStream, ServerCallContext context)
    {
        script.Arrived(context);
        return script.Duplex(requestStream, responseStream, context);
    }
}

/// <summary>A real Kestrel server on 127.0.0.1 hosting the scripted Echo service.</summary>
public static class EchoServer
{
    public static Task<MeshTestHost> StartAsync(EchoScript script) =>
        MeshTestHost.StartAsync(
            null,
            b =>
            {
                b.Services.AddGrpc();
                b.Services.AddSingleton(script);
            },
            app => app.MapGrpcService<ScriptedEcho>());
}

/// <summary>Distinct client types over the Echo service, one per target service id.</summary>
public sealed class InventoryClient(CallInvoker callInvoker) : Echo.EchoClient(callInvoker);

public sealed class PaymentClient(CallInvoker callInvoker) : Echo.EchoClient(callInvoker);
