// An application that takes Mesh.AspNetCore from its package: it serves a greeter whose first attempt of every call
// fails with UNAVAILABLE, calls it once through a mesh client, and exits 0 only if the retry made the call succeed.
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Mesh.AspNetCore;
using PackageConsumer;

var port = FreePort();
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
{
    ["Mesh:ServiceId"] = "package-consumer",
    ["Mesh:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
    ["Mesh:ListenAddress"] = "127.0.0.1",
    ["Mesh:Resilience:Retry:InitialDelay"] = "50",
    ["Mesh:Discovery:Services:0:Id"] = "greeter",
    ["Mesh:Discovery:Services:0:Host"] = "127.0.0.1",
    ["Mesh:Discovery:Services:0:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
});
builder.Services.AddGrpc();
builder.Services.AddSingleton<FlakyGreeter>();
builder.Services.AddSecureMesh().AddClient<Greeter.GreeterClient>("greeter");

await using var app = builder.Build();
app.MapGrpcService<FlakyGreeter>();
await app.StartAsync();

var greeter = app.Services.GetRequiredService<IMeshClient<Greeter.GreeterClient>>();
var reply = await greeter.Client.SayHelloAsync(new HelloRequest { Name = "package" });
var stats = app.Services.GetRequiredService<ISecureMesh>().GetStats().Services["greeter"];
await app.StopAsync();

Console.WriteLine($"consumer: reply '{reply.Message}', calls {stats.MessagesSent}, failed {stats.MessagesFailed}, retries {stats.Retries}, breaker {stats.CircuitBreakerState}");
var ok = reply.Message == "hello package" && stats.MessagesSent == 1 && stats.MessagesFailed == 0 && stats.Retries == 1;
Console.WriteLine(ok ? "consumer: OK" : "consumer: FAIL");
return ok ? 0 : 1;

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}

internal sealed class FlakyGreeter : Greeter.GreeterBase
{
    private readonly ConcurrentDictionary<string, byte> _failedOnce = new();

    public override Task<HelloReply> SayHello(HelloRequest request, ServerCallContext context)
    {
        if (_failedOnce.TryAdd(request.Name, 0))
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "greeter: transient failure (injected)"));
        }

        return Task.FromResult(new HelloReply { Message = $"hello {request.Name}" });
    }
}
