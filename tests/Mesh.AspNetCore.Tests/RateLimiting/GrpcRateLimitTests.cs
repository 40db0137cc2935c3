using Grpc.Core;
using Grpc.Health.V1;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Tests.RateLimiting;

/// <summary>The inbound rate limit on gRPC calls, over real Kestrel and real gRPC clients.</summary>
public sealed class GrpcRateLimitTests
{
    [Fact]
    public async Task Say_PerCaller_EachServiceIdGetsItsOwnQuota()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 3, "WindowMs": 60000 }""");

        var a = await CallsAsync(service, 4, RateLimitedService.Caller("svc-a"));
        var b = await CallsAsync(service, 4, RateLimitedService.Caller("svc-b"));

        StatusCode[] expected = [StatusCode.OK, StatusCode.OK, StatusCode.OK, StatusCode.ResourceExhausted];
        Assert.Equal(expected, a);
        Assert.Equal(expected, b);
    }

    [Fact]
    public async Task Say_OneServiceIdSpeltTwoWays_SharesOneQuota()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 2, "WindowMs": 60000 }""");

        Assert.Equal(StatusCode.OK, await service.SayAsync(RateLimitedService.Caller("order-service")));
        Assert.Equal(StatusCode.OK, await service.SayAsync(RateLimitedService.Caller("Order-Service")));
        Assert.Equal(StatusCode.ResourceExhausted, await service.SayAsync(RateLimitedService.Caller("ORDER-SERVICE")));
    }

    [Fact]
    public async Task Say_PartitionByGlobal_AllCallersShareOneQuota()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 3, "WindowMs": 60000, "PartitionBy": "Global" }""");

        StatusCode[] statuses =
        [
            await service.SayAsync(RateLimitedService.Caller("svc-a")),
            await service.SayAsync(RateLimitedService.Caller("svc-b")),
            await service.SayAsync(),
            await service.SayAsync(RateLimitedService.Caller("svc-c")),
        ];

        Assert.Equal([StatusCode.OK, StatusCode.OK, StatusCode.OK, StatusCode.ResourceExhausted], statuses);
    }

    [Fact]
    public async Task Say_Rejected_StatusMessageAndTrailersCarryExactRetryAfter()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 2, "WindowMs": 60000 }""");
        var caller = RateLimitedService.Caller("svc-a");
        Assert.Equal(StatusCode.OK, await service.SayAsync(caller));  // opens the window
        service.Time.Advance(TimeSpan.FromMilliseconds(12_345));
        Assert.Equal(StatusCode.OK, await service.SayAsync(caller));

        var (status, error) = await service.SayWithErrorAsync(caller);

        Assert.Equal(StatusCode.ResourceExhausted, status);
        Assert.Equal("Rate limit exceeded. Retry after 48s", error!.Status.Detail);
        Assert.Equal("47655", error.Trailers.GetValue("grpc-retry-pushback-ms"));
        Assert.Equal("48", error.Trailers.GetValue("retry-after"));
    }

    [Fact]
    public async Task Say_LessThanAMillisecondLeft_RetryAfterRoundsUpToOneSecondAndOneMillisecond()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 1, "WindowMs": 60000 }""");
        Assert.Equal(StatusCode.OK, await service.SayAsync());
        service.Time.Advance(TimeSpan.FromMilliseconds(60_000) - TimeSpan.FromTicks(1));

        var (_, error) = await service.SayWithErrorAsync();

        Assert.Equal(("1", "1"), (error!.Trailers.GetValue("retry-after"), error.Trailers.GetValue("grpc-retry-pushback-ms")));
    }

    [Fact]
    public async Task Say_WindowEnds_CallerAdmittedAgainWithAFullQuota()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 2, "WindowMs": 10000 }""");
        Assert.Equal(2, await service.SayManyAsync(3));

        service.Time.Advance(TimeSpan.FromMilliseconds(9_999));
        var stillRejected = await service.SayAsync();
        service.Time.Advance(TimeSpan.FromMilliseconds(1));
        var nextWindow = await CallsAsync(service, 3);

        Assert.Equal(StatusCode.ResourceExhausted, stillRejected);
        Assert.Equal([StatusCode.OK, StatusCode.OK, StatusCode.ResourceExhausted], nextWindow);
    }

    [Fact]
    public async Task Say_AddSecureMeshBeforeAddGrpc_StillLimited()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        await using var host = await Infrastructure.MeshTestHost.StartAsync(
            """{ "Mesh": { "ServiceId": "echo-service", "Resilience": { "RateLimit": { "MaxRequests": 1 } } } }""",
            b =>
            {
                b.Services.AddSingleton<TimeProvider>(time).AddSingleton<HandlerCalls>();
                b.Services.AddSecureMesh();
                b.Services.AddGrpc();
            },
            app => app.MapGrpcService<RecordingEchoService>());
        using var channel = host.CreateChannel();
        var client = new Echo.EchoClient(channel);
        await client.SayAsync(new EchoRequest(), cancellationToken: TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<RpcException>(
            () => client.SayAsync(new EchoRequest(), cancellationToken: TestContext.Current.CancellationToken).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }

    [Fact]
    public async Task Say_Rejected_HandlerDoesNotRun()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 2 }""");

        var admitted = await service.SayManyAsync(10);

        Assert.Equal((2, 2), (admitted, service.Calls.Grpc));
    }

    [Fact]
    public async Task HealthCheck_QuotaExhausted_StillServed()
    {
        await using var service = await RateLimitedService.StartAsync(
            """{ "MaxRequests": 1 }""",
            b => b.Services.AddGrpcHealthChecks(),
            app => app.MapGrpcHealthChecksService());
        var health = new Health.HealthClient(service.Channel);
        Assert.Equal(StatusCode.OK, await service.SayAsync());
        Assert.Equal(StatusCode.ResourceExhausted, await service.SayAsync());

        for (var i = 0; i < 5; i++)
        {
            // Throws RpcException(ResourceExhausted) if the limit applied to it.
            await health.CheckAsync(new HealthCheckRequest(), cancellationToken: TestContext.Current.CancellationToken);
        }

        Assert.Equal(StatusCode.ResourceExhausted, await service.SayAsync());
    }

    public static TheoryData<string> CallTypes => ["unary", "server-streaming", "client-streaming", "duplex"];

    [Theory]
    [MemberData(nameof(CallTypes))]
    public async Task AnyCallType_OverLimit_RejectedBeforeTheHandler(string callType)
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 1 }""");

        var first = await CallAsync(service.Client, callType);
        var second = await CallAsync(service.Client, callType);

        Assert.Equal((StatusCode.OK, StatusCode.ResourceExhausted, 1), (first, second, service.Calls.Grpc));
    }

    [Fact]
    public async Task Say_AuthenticatedCaller_CountedByIdentityNotByHeader()
    {
        await using var service = await RateLimitedService.StartAsync(
            """{ "MaxRequests": 2 }""",
            b => b.Services.AddAuthentication(TestAuthenticationHandler.SchemeName)
                .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, TestAuthenticationHandler>(TestAuthenticationHandler.SchemeName, null));
        Metadata Alice(string serviceId) => new() { { TestAuthenticationHandler.UserHeader, "alice" }, { RateLimitedService.ServiceIdHeader, serviceId } };

        StatusCode[] statuses =
        [
            await service.SayAsync(Alice("svc-a")),
            await service.SayAsync(Alice("svc-b")),
            await service.SayAsync(Alice("svc-c")),                 // alice's quota is spent, whatever header she sends
            await service.SayAsync(RateLimitedService.Caller("svc-a")), // the service id alone is another caller
        ];

        Assert.Equal([StatusCode.OK, StatusCode.OK, StatusCode.ResourceExhausted, StatusCode.OK], statuses);
    }

    public static TheoryData<string, string> BadServiceIds => new()
    {
        { "too long", new string('s', 257) },
        { "control character", "svc\tspoof" },
        { "blank", " " },
    };

    [Theory]
    [MemberData(nameof(BadServiceIds))]
    public async Task Say_BadServiceIdHeader_CountedByRemoteAddress(string name, string badServiceId)
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 2 }""");

        StatusCode[] statuses =
        [
            await service.SayAsync(RateLimitedService.Caller(badServiceId)),
            await service.SayAsync(),                                       // no header: the same address
            await service.SayAsync(RateLimitedService.Caller(badServiceId)),
            await service.SayAsync(RateLimitedService.Caller("well-formed")),
        ];

        Assert.True(
            statuses.SequenceEqual([StatusCode.OK, StatusCode.OK, StatusCode.ResourceExhausted, StatusCode.OK]),
            $"{name}: {string.Join(", ", statuses)}");
    }

    [Fact]
    public async Task Say_ServiceIdOf256Characters_IsItsOwnCaller()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 1 }""");
        Assert.Equal(StatusCode.OK, await service.SayAsync());

        var longest = await service.SayAsync(RateLimitedService.Caller(new string('s', 256)));

        Assert.Equal(StatusCode.OK, longest);
    }

    [Fact]
    public async Task Say_LimitDisabled_AdmitsEverything()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 1, "Enabled": false }""");

        var admitted = await service.SayManyAsync(20);

        Assert.Equal((20, 20), (admitted, service.Calls.Grpc));
    }

    [Fact]
    public async Task Say_NoRateLimitConfigured_AdmitsEverything()
    {
        await using var service = await RateLimitedService.StartWithJsonAsync("""{ "Mesh": { "ServiceId": "echo-service" } }""");

        Assert.Equal(20, await service.SayManyAsync(20));
    }

    [Fact]
    public async Task Say_LimitReloaded_NewLimitAppliesToTheRunningWindow()
    {
        var configuration = new ReloadableConfigurationSource(Settings(maxRequests: "2", enabled: null));
        await using var service = await RateLimitedService.StartWithJsonAsync(null, b => ((IConfigurationBuilder)b.Configuration).Add(configuration));
        var monitor = service.Host.Services.GetRequiredService<IOptionsMonitor<SecureMeshOptions>>();
        Assert.Equal(2, await service.SayManyAsync(3));

        configuration.Replace(Settings(maxRequests: "5", enabled: null));
        Assert.Equal(5, monitor.CurrentValue.Resilience.RateLimit.MaxRequests);
        var afterRaise = await service.SayManyAsync(5);   // the 2 already counted stay counted
        configuration.Replace(Settings(maxRequests: "5", enabled: "false"));
        var afterDisable = await service.SayManyAsync(5);

        Assert.Equal(3, afterRaise);
        Assert.Equal(5, afterDisable);

        static Dictionary<string, string?> Settings(string maxRequests, string? enabled) => new()
        {
            ["Mesh:ServiceId"] = "echo-service",
            ["Mesh:Resilience:RateLimit:MaxRequests"] = maxRequests,
            ["Mesh:Resilience:RateLimit:Enabled"] = enabled,
        };
    }

    [Fact]
    public async Task Say_64ConcurrentCallsOfOneCaller_ExactlyMaxRequestsAdmittedInEachWindow()
    {
        await using var service = await RateLimitedService.StartAsync("""{ "MaxRequests": 50, "WindowMs": 60000 }""");
        var caller = RateLimitedService.Caller("svc-a");

        var perWindow = new List<int>();
        for (var window = 0; window < 3; window++)
        {
            perWindow.Add(await service.SayManyAsync(64, caller, parallelism: 64));
            service.Time.Advance(TimeSpan.FromMinutes(1));
        }

        Assert.Equal([50, 50, 50], perWindow);
        Assert.Equal(150, service.Calls.Grpc);
    }

    [Fact]
    public async Task Say_Rejected_LogsCallerAndRetryAfterAtDebug()
    {
        await using var service = await RateLimitedService.StartAsync(
            """{ "MaxRequests": 1 }""",
            b => b.Logging.AddFakeLogging().SetMinimumLevel(LogLevel.Debug));
        await service.SayAsync(RateLimitedService.Caller("svc-a"));
        service.Time.Advance(TimeSpan.FromSeconds(20));

        await service.SayAsync(RateLimitedService.Caller("svc-a"));

        var entry = Assert.Single(service.Host.Services.GetFakeLogCollector().GetSnapshot(), e => e.Id.Id == 2001);
        Assert.Equal(LogLevel.Debug, entry.Level);
        Assert.Contains("service:svc-a", entry.Message, StringComparison.Ordinal);
        Assert.Contains("40000 ms", entry.Message, StringComparison.Ordinal);
    }

    private static async Task<StatusCode[]> CallsAsync(RateLimitedService service, int count, Metadata? headers = null)
    {
        var statuses = new StatusCode[count];
        for (var i = 0; i < count; i++)
        {
            statuses[i] = await service.SayAsync(headers);
        }

        return statuses;
    }

    internal static async Task<StatusCode> CallAsync(Echo.EchoClient client, string callType)
    {
        var ct = TestContext.Current.CancellationToken;
        try
        {
            switch (callType)
            {
                case "unary":
                    await client.SayAsync(new EchoRequest { Text = "x" }, cancellationToken: ct);
                    break;
                case "server-streaming":
                    using (var call = client.ServerStream(new EchoRequest { Text = "x", Count = 2 }, cancellationToken: ct))
                    {
                        await foreach (var _ in call.ResponseStream.ReadAllAsync(ct))
                        {
                        }
                    }

                    break;
                case "client-streaming":
                    using (var call = client.ClientStream(cancellationToken: ct))
                    {
                        await WriteOneAsync(call.RequestStream, ct);
                        await call.ResponseAsync;
                    }

                    break;
                default:
                    using (var call = client.Duplex(cancellationToken: ct))
                    {
                        await WriteOneAsync(call.RequestStream, ct);
                        await foreach (var _ in call.ResponseStream.ReadAllAsync(ct))
                        {
                        }
                    }

                    break;
            }

            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }

    /// <summary>
    /// Writes one message and completes the request stream. A server that answers without reading the request (as a
    /// rejection does) may end the call while the client is still writing; the write then fails, and the call's status
    /// is read from its response, as a client must.
    /// </summary>
    private static async Task WriteOneAsync(IClientStreamWriter<EchoRequest> requestStream, CancellationToken ct)
    {
        try
        {
            await requestStream.WriteAsync(new EchoRequest { Text = "x" }, ct);
            await requestStream.CompleteAsync();
        }
        catch (RpcException)
        {
        }
        catch (InvalidOperationException)
        {
        }
    }
}
