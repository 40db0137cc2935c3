using Grpc.Core;

namespace Mesh.AspNetCore.Benchmarks.Infrastructure;

/// <summary>
/// A call invoker whose unary calls have already failed with UNAVAILABLE, a new <see cref="RpcException"/> each time:
/// the least a failed gRPC call can cost its caller, with no network and no pipeline.
/// </summary>
internal sealed class FailingCallInvoker : CallInvoker
{
    private static readonly Status s_unavailable = new(StatusCode.Unavailable, "The service is unavailable.");
    private static readonly Func<Status> s_status = static () => s_unavailable;
    private static readonly Metadata s_trailers = [];
    private static readonly Task<Metadata> s_headers = Task.FromResult(new Metadata());
    private static readonly Func<Metadata> s_getTrailers = static () => s_trailers;
    private static readonly Action s_dispose = static () => { };

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
        Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        new(Task.FromException<TResponse>(new RpcException(s_unavailable)), s_headers, s_status, s_getTrailers, s_dispose);

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(
        Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        throw new RpcException(s_unavailable);

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(
        Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        throw new NotSupportedException("Only unary calls are benchmarked in-process.");

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(
        Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw new NotSupportedException("Only unary calls are benchmarked in-process.");

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(
        Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw new NotSupportedException("Only unary calls are benchmarked in-process.");
}
