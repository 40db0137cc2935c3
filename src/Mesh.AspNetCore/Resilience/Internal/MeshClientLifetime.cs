using Grpc.Core;
using Microsoft.Extensions.Hosting;

namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>
/// Tells mesh calls that the application has stopped: a call waiting to retry then ends at once with
/// <see cref="StatusCode.Cancelled"/> instead of holding the shutdown for the rest of its backoff (Polly's pipeline
/// registry waits for running calls before it is disposed) and then starting an attempt that nothing would cancel.
/// </summary>
/// <remarks>
/// Stopped when the host reports <see cref="IHostApplicationLifetime.ApplicationStopped"/> (the server has drained its
/// requests by then), and in any case when the container disposes it. It is first resolved after the pipeline registry
/// (by the pipelines and the interceptors, which need the registry first), so the container disposes it before the
/// registry, whose disposal would otherwise wait for the calls it stops.
/// </remarks>
internal sealed class MeshClientLifetime : IDisposable
{
    private readonly CancellationTokenSource _stopped = new();
    private readonly CancellationTokenRegistration _hostStopped;

    public MeshClientLifetime(IHostApplicationLifetime? host = null)
    {
        Stopped = _stopped.Token;
        _hostStopped = host?.ApplicationStopped.Register(static state => ((MeshClientLifetime)state!).Stop(), this) ?? default;
    }

    /// <summary>Cancelled once the application has stopped.</summary>
    public CancellationToken Stopped { get; }

    /// <summary>The failure of a call whose next attempt the stop prevented.</summary>
    public static RpcException StoppedFailure() =>
        new(new Status(StatusCode.Cancelled, "The call was cancelled: the application is stopping."));

    public void Dispose()
    {
        _hostStopped.Dispose();
        Stop();

        // The source is not disposed: calls may still read or link its token while the container shuts down.
    }

    private void Stop() => _stopped.Cancel();
}
