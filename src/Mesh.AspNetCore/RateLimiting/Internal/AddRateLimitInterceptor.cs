using Grpc.AspNetCore.Server;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>Adds <see cref="RateLimitInterceptor"/> to every gRPC service, whether <c>AddGrpc</c> runs before or after <c>AddSecureMesh</c>.</summary>
internal sealed class AddRateLimitInterceptor : IConfigureOptions<GrpcServiceOptions>
{
    public void Configure(GrpcServiceOptions options) => options.Interceptors.Add<RateLimitInterceptor>();
}
