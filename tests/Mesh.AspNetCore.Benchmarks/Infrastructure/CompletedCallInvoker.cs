using Grpc.Core;

namespace Mesh.AspNetCore.Benchmarks.Infrastructure;

/// <summary>
/// A call invoker whose unary calls have already completed with one shared reply: the "completed call delegate" under
/// the in-process client pipelines, so that only the pipeline's own work is measured.
/// </summary>
internal sealed class CompletedCallInvoker<TReply>(TReply reply) : CallInvoker
    where TReply : class
{
    private static readonly Task<Metadata> s_headers = Task.FromResult(new Metadata());
    private static readonly Metadata s_trailers = [];
    private static readonly Func<Status> s_status = static () => Status.DefaultSuccess;
    private static readonly Func<Metadata> s_getTrailers = static () => s_trailers;
    private static readonly Action s_dispose = static () => { };

    private readonly Task<TReply> _reply = Task.FromResult(reply);

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
        Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        new(Reply<TResponse>(), s_headers, s_status, s_getTrailers, s_dispose);

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(
        Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        Reply<TResponse>().Result;

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(
        Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        throw new NotSupportedException("Only unary calls are benchmarked in-process.");

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(
        Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw new NotSupportedException("Only unary calls are benchmarked in-process.");

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(
        Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw new NotSupportedException("Only unary calls are benchmarked in-process.");

    // The reply task is created once and shared by every call.
    private Task<TResponse> Reply<TResponse>() => (Task<TResponse>)(object)_reply;
}
