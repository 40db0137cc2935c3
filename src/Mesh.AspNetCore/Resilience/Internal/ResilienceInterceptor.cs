using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Polly;

namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>
/// Runs every call of a mesh client through the target service's Polly pipeline (retry wrapping the circuit breaker),
/// at the gRPC call level where the final status is known, wherever it travelled: a trailers-only response, trailers
/// after headers and messages, or a connection failure that never reached HTTP.
/// </summary>
/// <remarks>
/// Unary calls: every attempt is a new call on the channel. Server streaming: the attempt is the call's start up to its
/// first response message (or its end), so a call is retried only while the caller has seen no message; later
/// failures end the call. Client streaming and duplex: the circuit breaker admits and counts the call, but the call is
/// never retried, because the messages the caller wrote cannot be replayed.
/// </remarks>
internal sealed partial class ResilienceInterceptor : Interceptor
{
    private readonly ResiliencePipeline _pipeline;
    private readonly MeshMetrics _metrics;
    private readonly TimeProvider _timeProvider;
    private readonly RetryBudget? _budget;
    private readonly ILogger _logger;
    private readonly IOptionsMonitor<SecureMeshOptions>? _options;
    private readonly CancellationToken _stopped;

    public ResilienceInterceptor(
        string serviceId,
        ResiliencePipeline pipeline,
        MeshMetrics metrics,
        TimeProvider timeProvider,
        RetryBudget? budget = null,
        ILogger? logger = null,
        IOptionsMonitor<SecureMeshOptions>? options = null,
        MeshClientLifetime? lifetime = null)
    {
        ServiceId = serviceId;
        _pipeline = pipeline;
        _metrics = metrics;
        _timeProvider = timeProvider;
        _budget = budget;
        _logger = logger ?? NullLogger.Instance;
        _options = options;
        _stopped = lifetime?.Stopped ?? CancellationToken.None;
    }

    public string ServiceId { get; }

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, BlockingUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        var call = new BlockingCall<TRequest, TResponse>(request, context, continuation, _stopped);
        var start = CallStarted();
        var resilienceContext = ResilienceContextPool.Shared.Get(context.Options.CancellationToken);
        resilienceContext.Properties.Set(MeshCallInfo.Key, call);
        try
        {
            var outcome = _pipeline.Execute(static (_, c) => c.Invoke(), resilienceContext, call);
            Completed(call, start, null);
            return outcome;
        }
        catch (Exception ex) when (ex is RpcException or OperationCanceledException)
        {
            var failure = Completed(call, start, ex)!;
            if (ReferenceEquals(failure, ex))
            {
                throw;
            }

            throw failure;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(resilienceContext);
        }
    }

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation) =>
        UnaryCall<TRequest, TResponse>.Start(this, request, context, continuation);

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncServerStreamingCallContinuation<TRequest, TResponse> continuation) =>
        new ServerStreamingCall<TRequest, TResponse>(this, request, context, continuation).Start();

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(
        ClientInterceptorContext<TRequest, TResponse> context, AsyncClientStreamingCallContinuation<TRequest, TResponse> continuation) =>
        new ClientStreamingCall<TRequest, TResponse>(this, context, continuation).Start();

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(
        ClientInterceptorContext<TRequest, TResponse> context, AsyncDuplexStreamingCallContinuation<TRequest, TResponse> continuation) =>
        new DuplexStreamingCall<TRequest, TResponse>(this, context, continuation).Start();

    /// <summary>The start of a logical call: its timestamp, and a deposit in the service's retry budget.</summary>
    private long CallStarted()
    {
        var start = _timeProvider.GetTimestamp();
        _budget?.Deposit(start);
        return start;
    }

    /// <summary>
    /// Records the end of a logical call and returns the exception the caller sees: the attempt's own
    /// <see cref="RpcException"/>, a breaker rejection, or a <see cref="StatusCode.Cancelled"/> one for a cancelled backoff.
    /// A failed call is logged once, here.
    /// </summary>
    private Exception? Completed(MeshCallInfo call, long start, Exception? exception)
    {
        var failure = exception switch
        {
            null or RpcException => exception,
            OperationCanceledException canceled => new RpcException(new Status(StatusCode.Cancelled, "The call was cancelled by the caller.", canceled)),
            _ => exception,
        };
        var status = failure switch
        {
            null => StatusCode.OK,
            RpcException rpc => rpc.StatusCode,
            _ => StatusCode.Unknown,
        };
        _metrics.CallCompleted(ServiceId, call.Method, status, _timeProvider.GetElapsedTime(start));
        if (failure is not null)
        {
            LogFailure(call, failure);
        }

        return failure;
    }

    /// <summary>
    /// One line per failed call, at Warning when the service failed it (a status that the retry or the breaker treats
    /// as a failure, after at least one attempt), with the exception only when it is not a gRPC status. The caller's
    /// cancellation, an answer such as <c>NotFound</c> and a rejection by the open breaker (no attempt made) are Debug:
    /// they say nothing new about the service, and an open breaker under load must not write a line per call.
    /// </summary>
    private void LogFailure(MeshCallInfo call, Exception failure)
    {
        if (failure is not RpcException rpc)
        {
            LogCallFailed(_logger, LogLevel.Warning, call.Method, ServiceId, StatusCode.Unknown, failure.Message, call.Attempts, failure);
            return;
        }

        var level = call.Attempts > 0 && IsServiceFailure(rpc.StatusCode) ? LogLevel.Warning : LogLevel.Debug;
        LogCallFailed(_logger, level, call.Method, ServiceId, rpc.StatusCode, rpc.Status.Detail, call.Attempts, null);
    }

    private bool IsServiceFailure(StatusCode status)
    {
        if (status == StatusCode.Cancelled)
        {
            return false;
        }

        var resilience = _options?.CurrentValue.Resilience;
        return ((IEnumerable<StatusCode>?)resilience?.Retry.RetryableStatusCodes ?? RetryConstants.DefaultRetryableStatusCodes).Contains(status)
            || ((IEnumerable<StatusCode>?)resilience?.CircuitBreaker.FailureStatusCodes ?? CircuitBreakerConstants.DefaultFailureStatusCodes).Contains(status);
    }

    private static RpcException Disposed() => new(new Status(StatusCode.Cancelled, "The call was disposed."));

    /// <summary>
    /// Marks the failure of a call the caller disposed as observed: nobody will read it, and, as with gRPC's own calls,
    /// it must not be reported as an unobserved task exception.
    /// </summary>
    private static void ObserveAfterDispose(Task? task)
    {
        if (task is null || task.IsCompletedSuccessfully)
        {
            return; // the usual case, a call disposed after its end: nothing to observe, nothing allocated
        }

        if (task.IsCompleted)
        {
            _ = task.Exception;
            return;
        }

        task.ContinueWith(
            static t => _ = t.Exception,
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private sealed class BlockingCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, BlockingUnaryCallContinuation<TRequest, TResponse> continuation, CancellationToken stopped)
        : MeshCallInfo
        where TRequest : class
        where TResponse : class
    {
        public override string Method => context.Method.FullName;

        public override DateTime? Deadline => UtcDeadline(context.Options.Deadline);

        public override bool CanRetry => true;

        public override object? Request => request;

        public TResponse Invoke()
        {
            if (stopped.IsCancellationRequested)
            {
                throw MeshClientLifetime.StoppedFailure();
            }

            Attempts++;
            return continuation(request, context);
        }
    }

    /// <summary>
    /// One logical unary call. When the pipeline completes synchronously (a call that has already completed, or a
    /// rejection by an open breaker), the caller gets the attempt's own call (or a failed one) and this object goes back
    /// to a per-thread cache; otherwise it carries the call until it ends, with the final attempt's headers, status and trailers.
    /// </summary>
    private sealed class UnaryCall<TRequest, TResponse> : RetriedCall<AsyncUnaryCall<TResponse>>
        where TRequest : class
        where TResponse : class
    {
        [ThreadStatic]
        private static UnaryCall<TRequest, TResponse>? t_cached;

        private ResilienceInterceptor _owner = null!;
        private TRequest _request = null!;
        private ClientInterceptorContext<TRequest, TResponse> _context;
        private AsyncUnaryCallContinuation<TRequest, TResponse> _continuation = null!;
        private Task<TResponse>? _response;

        public override string Method => _context.Method.FullName;

        public override DateTime? Deadline => UtcDeadline(_context.Options.Deadline);

        public override object? Request => _request;

        public static AsyncUnaryCall<TResponse> Start(
            ResilienceInterceptor owner, TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
        {
            var call = t_cached ?? new UnaryCall<TRequest, TResponse>();
            t_cached = null;
            call._owner = owner;
            call._request = request;
            call._context = context;
            call._continuation = continuation;
            call.Attempts = 0;
            return call.Run();
        }

        private AsyncUnaryCall<TResponse> Run()
        {
            var start = _owner.CallStarted();
            var resilienceContext = ResilienceContextPool.Shared.Get(_context.Options.CancellationToken);
            ValueTask<Outcome<TResponse>> pending;
            try
            {
                pending = _owner._pipeline.ExecuteOutcomeAsync(static (context, call) => call.AttemptAsync(context), resilienceContext, this);
            }
            catch
            {
                ResilienceContextPool.Shared.Return(resilienceContext);
                throw;
            }

            if (!pending.IsCompleted)
            {
                _response = CompleteAsync(pending, resilienceContext, start);
                return new AsyncUnaryCall<TResponse>(
                    _response,
                    static s => ((UnaryCall<TRequest, TResponse>)s).HeadersAsync(),
                    static s => ((UnaryCall<TRequest, TResponse>)s).GetStatus(),
                    static s => ((UnaryCall<TRequest, TResponse>)s).GetTrailers(),
                    static s => ((UnaryCall<TRequest, TResponse>)s).Dispose(),
                    this);
            }

            var outcome = pending.Result;
            ResilienceContextPool.Shared.Return(resilienceContext);
            var failure = _owner.Completed(this, start, outcome.Exception);
            AsyncUnaryCall<TResponse> result;
            if (Attempt is { } attempt && (failure is null || ReferenceEquals(failure, AttemptFailure)))
            {
                // The last attempt is the caller's call: its response (or failure), headers, status and trailers.
                result = attempt;
            }
            else if (failure is RpcException own)
            {
                // Rejected by the breaker or cancelled before an attempt ran (or after one that the caller never sees).
                Attempt?.Dispose();
                result = Failed(own);
            }
            else
            {
                // Not a gRPC failure (such as an exception of the call invoker): kept as the call's outcome, as for an asynchronous end.
                _response = failure is null ? Task.FromResult(outcome.Result!) : Task.FromException<TResponse>(failure);
                return new AsyncUnaryCall<TResponse>(
                    _response,
                    static s => ((UnaryCall<TRequest, TResponse>)s).HeadersAsync(),
                    static s => ((UnaryCall<TRequest, TResponse>)s).GetStatus(),
                    static s => ((UnaryCall<TRequest, TResponse>)s).GetTrailers(),
                    static s => ((UnaryCall<TRequest, TResponse>)s).Dispose(),
                    this);
            }

            // Nothing refers to this object any more: the next call on this thread reuses it.
            _owner = null!;
            _request = null!;
            _context = default;
            _continuation = null!;
            Attempt = null;
            AttemptFailure = null;
            ResetDisposal();
            t_cached = this;
            return result;
        }

        private static AsyncUnaryCall<TResponse> Failed(RpcException failure) => new(
            Task.FromException<TResponse>(failure),
            static s => Task.FromException<Metadata>((RpcException)s),
            static s => ((RpcException)s).Status,
            static s => ((RpcException)s).Trailers,
            static _ => { },
            failure);

        private async Task<TResponse> CompleteAsync(ValueTask<Outcome<TResponse>> pending, ResilienceContext resilienceContext, long start)
        {
            Outcome<TResponse> outcome;
            try
            {
                outcome = await pending.ConfigureAwait(false);
            }
            finally
            {
                ResilienceContextPool.Shared.Return(resilienceContext);
            }

            var failure = _owner.Completed(this, start, outcome.Exception);
            if (failure is null)
            {
                return outcome.Result!;
            }

            KeepOwnFailure(failure);

            ExceptionDispatchInfo.Throw(failure);
            return default;
        }

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        private async ValueTask<Outcome<TResponse>> AttemptAsync(ResilienceContext resilienceContext)
        {
            AsyncUnaryCall<TResponse> call;
            lock (Gate)
            {
                if (IsDisposed)
                {
                    return Outcome.FromException<TResponse>(AttemptFailure = Disposed());
                }

                if (_owner._stopped.IsCancellationRequested)
                {
                    return Outcome.FromException<TResponse>(MeshClientLifetime.StoppedFailure());
                }

                Attempt?.Dispose();
                call = _continuation(_request, _context);
                Attempt = call;
                Attempts++;
            }

            try
            {
                return Outcome.FromResult(await call.ResponseAsync.ConfigureAwait(false));
            }
            catch (RpcException ex)
            {
                AttemptFailure = ex;

                // The retry strategy reads the call only after a failed attempt.
                resilienceContext.Properties.Set(Key, this);
                return Outcome.FromException<TResponse>(ex);
            }
        }

        protected override Task<Metadata> HeadersOf(AsyncUnaryCall<TResponse> attempt) => attempt.ResponseHeadersAsync;

        protected override Status StatusOf(AsyncUnaryCall<TResponse> attempt) => attempt.GetStatus();

        protected override Metadata TrailersOf(AsyncUnaryCall<TResponse> attempt) => attempt.GetTrailers();

        private Task<Metadata> HeadersAsync() => HeadersAfterAsync(_response!);

        private void Dispose()
        {
            MarkDisposed();
            ObserveAfterDispose(_response);
        }
    }

    private sealed class ServerStreamingCall<TRequest, TResponse>(
        ResilienceInterceptor owner, TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncServerStreamingCallContinuation<TRequest, TResponse> continuation)
        : RetriedCall<AsyncServerStreamingCall<TResponse>>, IAsyncStreamReader<TResponse>
        where TRequest : class
        where TResponse : class
    {
        private Task<bool>? _first;
        private bool _firstRead;
        private long _start;
        private int _completed;

        public override string Method => context.Method.FullName;

        public override DateTime? Deadline => UtcDeadline(context.Options.Deadline);

        public override object? Request => request;

        public TResponse Current => Attempt!.ResponseStream.Current;

        public AsyncServerStreamingCall<TResponse> Start()
        {
            _start = owner.CallStarted();
            _first = RunAsync();
            return new AsyncServerStreamingCall<TResponse>(
                this,
                static s => ((ServerStreamingCall<TRequest, TResponse>)s).HeadersAsync(),
                static s => ((ServerStreamingCall<TRequest, TResponse>)s).GetStatus(),
                static s => ((ServerStreamingCall<TRequest, TResponse>)s).GetTrailers(),
                static s => ((ServerStreamingCall<TRequest, TResponse>)s).Dispose(),
                this);
        }

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            if (!_firstRead)
            {
                _firstRead = true;
                try
                {
                    return await _first!.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested)
                {
                    throw CancelledByReader(ex);
                }
            }

            if (OwnFailure is { } own)
            {
                throw own;
            }

            try
            {
                var hasNext = await Attempt!.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false);
                if (!hasNext)
                {
                    Complete(null);
                }

                return hasNext;
            }
            catch (RpcException ex)
            {
                Complete(ex);
                throw;
            }
        }

        private async Task<bool> RunAsync()
        {
            var resilienceContext = ResilienceContextPool.Shared.Get(context.Options.CancellationToken);
            resilienceContext.Properties.Set(Key, this);
            Outcome<bool> outcome;
            try
            {
                outcome = await owner._pipeline.ExecuteOutcomeAsync(static (_, call) => call.AttemptAsync(), resilienceContext, this)
                    .ConfigureAwait(false);
            }
            finally
            {
                ResilienceContextPool.Shared.Return(resilienceContext);
            }

            if (outcome.Exception is null)
            {
                if (!outcome.Result)
                {
                    Complete(null);
                }

                return outcome.Result;
            }

            var failure = Complete(outcome.Exception)!;
            KeepOwnFailure(failure);

            ExceptionDispatchInfo.Throw(failure);
            return false;
        }

        private async ValueTask<Outcome<bool>> AttemptAsync()
        {
            AsyncServerStreamingCall<TResponse> call;
            lock (Gate)
            {
                if (IsDisposed)
                {
                    return Outcome.FromException<bool>(AttemptFailure = Disposed());
                }

                if (owner._stopped.IsCancellationRequested)
                {
                    return Outcome.FromException<bool>(MeshClientLifetime.StoppedFailure());
                }

                Attempt?.Dispose();
                call = continuation(request, context);
                Attempt = call;
                Attempts++;
            }

            try
            {
                return Outcome.FromResult(await call.ResponseStream.MoveNext(context.Options.CancellationToken).ConfigureAwait(false));
            }
            catch (RpcException ex)
            {
                AttemptFailure = ex;
                return Outcome.FromException<bool>(ex);
            }
        }

        private Exception? Complete(Exception? exception) =>
            Interlocked.Exchange(ref _completed, 1) == 0 ? owner.Completed(this, _start, exception) : exception;

        /// <summary>
        /// The caller cancelled the read of the first message: as with gRPC's own client, that cancels the whole call
        /// (the running attempt, or the backoff before the next one), and every later read fails with the same status.
        /// </summary>
        private RpcException CancelledByReader(OperationCanceledException cause)
        {
            var cancelled = new RpcException(new Status(StatusCode.Cancelled, "Call canceled by the client.", cause));
            OwnFailure = cancelled;
            MarkDisposed();
            Complete(cancelled);
            ObserveAfterDispose(_first);
            return cancelled;
        }

        protected override Task<Metadata> HeadersOf(AsyncServerStreamingCall<TResponse> attempt) => attempt.ResponseHeadersAsync;

        protected override Status StatusOf(AsyncServerStreamingCall<TResponse> attempt) => attempt.GetStatus();

        protected override Metadata TrailersOf(AsyncServerStreamingCall<TResponse> attempt) => attempt.GetTrailers();

        private Task<Metadata> HeadersAsync() => HeadersAfterAsync(_first!);

        private void Dispose()
        {
            MarkDisposed();
            Complete(Disposed());
            ObserveAfterDispose(_first);
        }
    }
}
