using Grpc.Core;
using Grpc.Core.Interceptors;
using Polly;

namespace Mesh.AspNetCore.Resilience.Internal;

internal sealed partial class ResilienceInterceptor
{
    /// <summary>
    /// Runs a client-streaming or duplex call as one attempt of the pipeline that is never retried: the breaker admits
    /// it (or rejects it without network traffic) and counts how it ends.
    /// </summary>
    private abstract class SingleAttemptCall<TRequest, TResponse, TCall>(ResilienceInterceptor owner, string method, DateTime? deadline, CancellationToken cancellationToken)
        : MeshCallInfo
        where TRequest : class
        where TResponse : class
        where TCall : class, IDisposable
    {
        private Exception? _attemptFailure;
        private long _start;
        private int _completed;

        protected ResilienceInterceptor Owner => owner;

        protected TCall? Attempt { get; private set; }

        protected RpcException? OwnFailure { get; private set; }

        protected Task? Outcome { get; private set; }

        public override string Method => method;

        public override DateTime? Deadline => UtcDeadline(deadline);

        public override bool CanRetry => false;

        protected abstract TCall StartAttempt();

        /// <summary>Completes when the attempt ended, with its failure as an <see cref="RpcException"/> outcome.</summary>
        protected abstract ValueTask<Outcome<bool>> AwaitEndAsync(TCall call);

        protected void Run()
        {
            _start = owner.CallStarted();
            Outcome = RunAsync();
        }

        protected Exception? Complete(Exception? exception) =>
            Interlocked.Exchange(ref _completed, 1) == 0 ? owner.Completed(this, _start, exception) : exception;

        private async Task RunAsync()
        {
            var resilienceContext = ResilienceContextPool.Shared.Get(cancellationToken);
            resilienceContext.Properties.Set(Key, this);
            Outcome<bool> outcome;
            try
            {
                // Polly runs the strategies synchronously up to the attempt, so Attempt is set when this method first yields.
                outcome = await owner._pipeline.ExecuteOutcomeAsync(
                    static (_, call) => call.AttemptAsync(), resilienceContext, this).ConfigureAwait(false);
            }
            finally
            {
                ResilienceContextPool.Shared.Return(resilienceContext);
            }

            if (outcome.Exception is { } exception && !ReferenceEquals(exception, _attemptFailure))
            {
                // Rejected by the breaker before any network traffic.
                OwnFailure = Complete(exception) as RpcException;
            }
        }

        private async ValueTask<Outcome<bool>> AttemptAsync()
        {
            var call = StartAttempt();
            Attempt = call;
            Attempts++;
            var outcome = await AwaitEndAsync(call).ConfigureAwait(false);
            _attemptFailure = outcome.Exception;
            return outcome;
        }
    }

    private sealed class ClientStreamingCall<TRequest, TResponse>(
        ResilienceInterceptor owner, ClientInterceptorContext<TRequest, TResponse> context, AsyncClientStreamingCallContinuation<TRequest, TResponse> continuation)
        : SingleAttemptCall<TRequest, TResponse, AsyncClientStreamingCall<TRequest, TResponse>>(owner, context.Method.FullName, context.Options.Deadline, context.Options.CancellationToken)
        where TRequest : class
        where TResponse : class
    {
        private Task<TResponse>? _response;

        public AsyncClientStreamingCall<TRequest, TResponse> Start()
        {
            Run();
            _response = ResponseAsync();
            return new AsyncClientStreamingCall<TRequest, TResponse>(
                Attempt?.RequestStream ?? new RejectedWriter<TRequest>(OwnFailure!),
                _response,
                static s => ((ClientStreamingCall<TRequest, TResponse>)s).HeadersAsync(),
                static s => ((ClientStreamingCall<TRequest, TResponse>)s).GetStatus(),
                static s => ((ClientStreamingCall<TRequest, TResponse>)s).GetTrailers(),
                static s => ((ClientStreamingCall<TRequest, TResponse>)s).Dispose(),
                this);
        }

        private void Dispose()
        {
            Attempt?.Dispose();
            ObserveAfterDispose(_response);
        }

        protected override AsyncClientStreamingCall<TRequest, TResponse> StartAttempt() => continuation(context);

        protected override async ValueTask<Outcome<bool>> AwaitEndAsync(AsyncClientStreamingCall<TRequest, TResponse> call)
        {
            try
            {
                await call.ResponseAsync.ConfigureAwait(false);
                return Polly.Outcome.FromResult(true);
            }
            catch (RpcException ex)
            {
                return Polly.Outcome.FromException<bool>(ex);
            }
        }

        private async Task<TResponse> ResponseAsync()
        {
            await Outcome!.ConfigureAwait(false);
            if (OwnFailure is { } own)
            {
                throw own;
            }

            try
            {
                var response = await Attempt!.ResponseAsync.ConfigureAwait(false);
                Complete(null);
                return response;
            }
            catch (RpcException ex)
            {
                Complete(ex);
                throw;
            }
        }

        private Task<Metadata> HeadersAsync() =>
            OwnFailure is { } own ? Task.FromException<Metadata>(own) : Attempt!.ResponseHeadersAsync;

        private Status GetStatus() => OwnFailure?.Status ?? Attempt!.GetStatus();

        private Metadata GetTrailers() => OwnFailure?.Trailers ?? Attempt!.GetTrailers();
    }

    private sealed class DuplexStreamingCall<TRequest, TResponse>(
        ResilienceInterceptor owner, ClientInterceptorContext<TRequest, TResponse> context, AsyncDuplexStreamingCallContinuation<TRequest, TResponse> continuation)
        : SingleAttemptCall<TRequest, TResponse, AsyncDuplexStreamingCall<TRequest, TResponse>>(owner, context.Method.FullName, context.Options.Deadline, context.Options.CancellationToken),
        IAsyncStreamReader<TResponse>
        where TRequest : class
        where TResponse : class
    {
        // Continuations run inline, so the breaker has counted the call by the time the caller sees its end.
        private readonly TaskCompletionSource<Exception?> _ended = new();

        public TResponse Current => Attempt!.ResponseStream.Current;

        public AsyncDuplexStreamingCall<TRequest, TResponse> Start()
        {
            Run();
            return new AsyncDuplexStreamingCall<TRequest, TResponse>(
                Attempt?.RequestStream ?? new RejectedWriter<TRequest>(OwnFailure!),
                this,
                static s => ((DuplexStreamingCall<TRequest, TResponse>)s).HeadersAsync(),
                static s => ((DuplexStreamingCall<TRequest, TResponse>)s).GetStatus(),
                static s => ((DuplexStreamingCall<TRequest, TResponse>)s).GetTrailers(),
                static s => ((DuplexStreamingCall<TRequest, TResponse>)s).Dispose(),
                this);
        }

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            if (OwnFailure is { } own)
            {
                throw own;
            }

            try
            {
                var hasNext = await Attempt!.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false);
                if (!hasNext)
                {
                    _ended.TrySetResult(null);
                    Complete(null);
                }

                return hasNext;
            }
            catch (RpcException ex)
            {
                _ended.TrySetResult(ex);
                Complete(ex);
                throw;
            }
        }

        protected override AsyncDuplexStreamingCall<TRequest, TResponse> StartAttempt() => continuation(context);

        protected override async ValueTask<Outcome<bool>> AwaitEndAsync(AsyncDuplexStreamingCall<TRequest, TResponse> call)
        {
            var failure = await _ended.Task.ConfigureAwait(false);
            return failure is null ? Polly.Outcome.FromResult(true) : Polly.Outcome.FromException<bool>(failure);
        }

        private Task<Metadata> HeadersAsync() =>
            OwnFailure is { } own ? Task.FromException<Metadata>(own) : Attempt!.ResponseHeadersAsync;

        private Status GetStatus() => OwnFailure?.Status ?? Attempt!.GetStatus();

        private Metadata GetTrailers() => OwnFailure?.Trailers ?? Attempt!.GetTrailers();

        private void Dispose()
        {
            Attempt?.Dispose();
            var disposed = Disposed();
            _ended.TrySetResult(disposed);
            Complete(disposed);
        }
    }

    /// <summary>The request stream of a call the circuit breaker rejected: every write fails with the rejection.</summary>
    private sealed class RejectedWriter<T>(RpcException rejection) : IClientStreamWriter<T>
    {
        public WriteOptions? WriteOptions { get; set; }

        public Task CompleteAsync() => Task.FromException(rejection);

        public Task WriteAsync(T message) => Task.FromException(rejection);

        public Task WriteAsync(T message, CancellationToken cancellationToken) => Task.FromException(rejection);
    }
}
