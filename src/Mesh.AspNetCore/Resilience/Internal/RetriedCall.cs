using Grpc.Core;

namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>
/// A call whose attempts the retry strategy may repeat (unary and server streaming): what the caller sees of it, its
/// headers, status and trailers, are those of the last attempt, unless the mesh itself ended the call (a breaker
/// rejection, a cancelled backoff), whose failure then stands for all three.
/// </summary>
/// <typeparam name="TAttempt">The gRPC call of one attempt.</typeparam>
internal abstract class RetriedCall<TAttempt> : MeshCallInfo
    where TAttempt : class, IDisposable
{
    private CancellationTokenSource? _disposal;
    private volatile bool _disposed;

    /// <summary>
    /// Held while an attempt starts and while the call is disposed, so that an attempt either starts before the
    /// disposal, which then disposes it, or not at all.
    /// </summary>
    protected Lock Gate { get; } = new();

    /// <summary>Whether the caller disposed (or, for a stream, cancelled) the call: no attempt starts any more.</summary>
    protected bool IsDisposed => _disposed;

    public override bool CanRetry => !_disposed;

    public override CancellationToken Disposal
    {
        get
        {
            lock (Gate)
            {
                return _disposed ? new CancellationToken(canceled: true) : (_disposal ??= new CancellationTokenSource()).Token;
            }
        }
    }

    /// <summary>The current or last attempt.</summary>
    protected TAttempt? Attempt { get; set; }

    /// <summary>The failure of the last attempt, as that attempt reported it.</summary>
    protected Exception? AttemptFailure { get; set; }

    /// <summary>The failure the mesh ended the call with, when it is not the last attempt's own.</summary>
    protected RpcException? OwnFailure { get; set; }

    /// <summary>Marks the call disposed, disposes its running attempt and ends a backoff it waits in.</summary>
    protected void MarkDisposed()
    {
        TAttempt? attempt;
        CancellationTokenSource? disposal;
        lock (Gate)
        {
            _disposed = true;
            attempt = Attempt;
            disposal = _disposal;
        }

        attempt?.Dispose();
        disposal?.Cancel();
    }

    /// <summary>Forgets the disposal signal of a call whose object is used again for another call.</summary>
    protected void ResetDisposal() => _disposal = null;

    protected abstract Task<Metadata> HeadersOf(TAttempt attempt);

    protected abstract Status StatusOf(TAttempt attempt);

    protected abstract Metadata TrailersOf(TAttempt attempt);

    /// <summary>Keeps the call's final failure when the mesh, not the last attempt, produced it.</summary>
    protected void KeepOwnFailure(Exception failure)
    {
        if (!ReferenceEquals(failure, AttemptFailure) && failure is RpcException own)
        {
            OwnFailure = own;
        }
    }

    /// <summary>The headers of the attempt whose result the caller gets, once <paramref name="completion"/> has ended.</summary>
    protected async Task<Metadata> HeadersAfterAsync(Task completion)
    {
        await completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (OwnFailure is { } own)
        {
            throw own;
        }

        return await HeadersOf(Attempt!).ConfigureAwait(false);
    }

    protected Status GetStatus() =>
        OwnFailure?.Status ?? (Attempt is { } attempt ? StatusOf(attempt) : throw NotComplete("status"));

    protected Metadata GetTrailers() =>
        OwnFailure?.Trailers ?? (Attempt is { } attempt ? TrailersOf(attempt) : throw NotComplete("trailers"));

    private static InvalidOperationException NotComplete(string what) =>
        new($"Unable to get the {what} because the call is not complete.");
}
