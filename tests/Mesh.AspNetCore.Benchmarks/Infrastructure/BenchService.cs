using Grpc.Core;
using Mesh.AspNetCore.Benchmarks.Protos;

namespace Mesh.AspNetCore.Benchmarks.Infrastructure;

/// <summary>The benchmark service: <c>Ping</c> answers at once with a shared reply, <c>Fail</c> always ends with UNAVAILABLE.</summary>
internal sealed class BenchService : Bench.BenchBase
{
    internal static readonly PingReply Reply = new() { Text = "pong" };

    private static readonly Task<PingReply> s_reply = Task.FromResult(Reply);

    public override Task<PingReply> Ping(PingRequest request, ServerCallContext context) => s_reply;

    public override Task<PingReply> Fail(PingRequest request, ServerCallContext context) =>
        Task.FromException<PingReply>(new RpcException(new Status(StatusCode.Unavailable, "The benchmark service is down.")));
}
