using Grpc.Core;
using Mesh.AspNetCore.Tests.Infrastructure;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>
/// <c>Mesh:Resilience:Retry:OnlyIdempotent</c> on real Kestrel calls: which methods are retried after their handler
/// failed, and which failures prove that no handler ran, using ledger.proto's <c>idempotency_level</c> options.
/// </summary>
public sealed class IdempotentRetryTests
{
    private static readonly LedgerRequest Request = new() { Account = "acct-1", Amount = 250 };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Call_OnlyIdempotentUndeclaredMethod_EndsAfterTheFirstAttempt()
    {
        var script = new LedgerScript();
        await using var server = await LedgerServer.StartAsync(script);
        await using var client = await StartClientAsync(server.Port, """{ "OnlyIdempotent": true }""");

        var error = await Assert.ThrowsAsync<RpcException>(() => client.Get<PaymentLedgerClient>().ChargeAsync(Request, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal(1, script.Calls("Charge"));
        Assert.Equal(0, Stats(client).Retries);
    }

    [Fact]
    public async Task Call_DefaultConfiguration_RetriesUndeclaredMethod()
    {
        var script = new LedgerScript();
        await using var server = await LedgerServer.StartAsync(script);
        await using var client = await StartClientAsync(server.Port, "{}");

        var error = await Assert.ThrowsAsync<RpcException>(() => client.Get<PaymentLedgerClient>().ChargeAsync(Request, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal(4, script.Calls("Charge"));
        Assert.Equal(3, Stats(client).Retries);
    }

    [Theory]
    [InlineData("GetBalance")] // option idempotency_level = NO_SIDE_EFFECTS
    [InlineData("SetLimit")]   // option idempotency_level = IDEMPOTENT
    public async Task Call_OnlyIdempotentDeclaredMethod_RetriedAsBefore(string method)
    {
        var script = new LedgerScript();
        await using var server = await LedgerServer.StartAsync(script);
        await using var client = await StartClientAsync(server.Port, """{ "OnlyIdempotent": true }""");
        var ledger = client.Get<PaymentLedgerClient>();

        var call = method == "GetBalance" ? ledger.GetBalanceAsync(Request, cancellationToken: Ct) : ledger.SetLimitAsync(Request, cancellationToken: Ct);
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal(4, script.Calls(method));
    }

    [Fact]
    public async Task Call_OnlyIdempotentMethodListedByName_RetriedAndOthersNot()
    {
        var script = new LedgerScript();
        await using var server = await LedgerServer.StartAsync(script);
        await using var client = await StartClientAsync(server.Port, """{ "OnlyIdempotent": true, "IdempotentMethods": [ "mesh.tests.ledger.Ledger/Refund" ] }""");
        var ledger = client.Get<PaymentLedgerClient>();

        await Assert.ThrowsAsync<RpcException>(() => ledger.RefundAsync(Request, cancellationToken: Ct).ResponseAsync);
        await Assert.ThrowsAsync<RpcException>(() => ledger.ChargeAsync(Request, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(4, script.Calls("Refund"));
        Assert.Equal(1, script.Calls("Charge"));
    }

    [Fact]
    public async Task Call_OnlyIdempotentServiceListedByWildcard_RetriesEveryMethodOfThatServiceOnly()
    {
        var script = new LedgerScript();
        await using var server = await LedgerServer.StartAsync(script);
        await using var client = await StartClientAsync(server.Port, """{ "OnlyIdempotent": true, "IdempotentMethods": [ "mesh.tests.ledger.Audit/*" ] }""");

        await Assert.ThrowsAsync<RpcException>(() => client.Get<Audit.AuditClient>().RecordAsync(Request, cancellationToken: Ct).ResponseAsync);
        await Assert.ThrowsAsync<RpcException>(() => client.Get<PaymentLedgerClient>().ChargeAsync(Request, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(4, script.Calls("Record"));
        Assert.Equal(1, script.Calls("Charge"));
    }

    [Fact]
    public async Task Call_OnlyIdempotentConnectionRefused_RetriesUndeclaredMethod()
    {
        using var refused = new RefusedPort(); // every attempt fails before its request is sent
        await using var client = await StartClientAsync(refused.Port, """{ "OnlyIdempotent": true }""");

        var error = await Assert.ThrowsAsync<RpcException>(() => client.Get<PaymentLedgerClient>().ChargeAsync(Request, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal(3, Stats(client).Retries);
    }

    [Fact]
    public async Task Call_OnlyIdempotentRejectedByMeshRateLimiter_RetriesUndeclaredMethodThatNeverReachedTheHandler()
    {
        var time = new TrackingTimeProvider();
        var script = new LedgerScript { Failure = StatusCode.OK };
        await using var server = await LedgerServer.StartAsync(
            script, """{ "Mesh": { "ServiceId": "payment-service", "Resilience": { "RateLimit": { "MaxRequests": 1, "WindowMs": 60000 } } } }""");
        // MaxDelay covers the limiter's 60 s pushback: a pushback past MaxDelay would end the retries at once.
        await using var client = await StartClientAsync(server.Port, """{ "OnlyIdempotent": true, "InitialDelay": 1, "MaxDelay": 60000 }""", time);
        var ledger = client.Get<PaymentLedgerClient>();
        await ledger.GetBalanceAsync(Request, cancellationToken: Ct); // spends this caller's quota

        var call = ledger.ChargeAsync(Request, cancellationToken: Ct).ResponseAsync;
        var delays = await time.DriveAsync(call);

        var error = await Assert.ThrowsAsync<RpcException>(() => call);
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal("rate-limit", error.Trailers.GetValue("x-mesh-rejected"));
        Assert.Equal(3, delays.Count);
        Assert.Equal(0, script.Calls("Charge"));
    }

    [Fact]
    public async Task Call_OnlyIdempotentResourceExhaustedByHandler_NotRetried()
    {
        var script = new LedgerScript { Failure = StatusCode.ResourceExhausted };
        await using var server = await LedgerServer.StartAsync(script);
        await using var client = await StartClientAsync(server.Port, """{ "OnlyIdempotent": true }""");

        var error = await Assert.ThrowsAsync<RpcException>(() => client.Get<PaymentLedgerClient>().ChargeAsync(Request, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal(1, script.Calls("Charge"));
    }

    [Fact]
    public async Task Call_OnlyIdempotentReloadedToFalse_RetriesUndeclaredMethod()
    {
        var script = new LedgerScript();
        await using var server = await LedgerServer.StartAsync(script);
        await using var client = await StartClientAsync(server.Port, """{ "OnlyIdempotent": true }""");
        var ledger = client.Get<PaymentLedgerClient>();
        await Assert.ThrowsAsync<RpcException>(() => ledger.ChargeAsync(Request, cancellationToken: Ct).ResponseAsync);

        client.Reload(("Mesh:Resilience:Retry:OnlyIdempotent", "false"));
        await Assert.ThrowsAsync<RpcException>(() => ledger.ChargeAsync(Request, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(1 + 4, script.Calls("Charge"));
    }

    /// <summary>
    /// Starts the calling service with <c>Mesh:Resilience:Retry</c> = <paramref name="retryJson"/>, delays from 1 ms unless
    /// it sets them, and the breaker off. <c>MaxDelay</c> keeps its default: with the breaker off it also paces the
    /// channel's reconnect attempts, and mesh channels outlive the host, so a channel left behind by a test must not
    /// try a stopped server every millisecond for the rest of the run. payment-service and audit-service are both at <paramref name="port"/>.
    /// </summary>
    internal static Task<MeshClientHost> StartClientAsync(int port, string retryJson, TimeProvider? time = null)
    {
        var retry = retryJson.Contains("InitialDelay", StringComparison.Ordinal)
            ? retryJson
            : retryJson.Trim() == "{}" ? """{ "InitialDelay": 1 }""" : retryJson.Replace("{", """{ "InitialDelay": 1,""", StringComparison.Ordinal);
        var json = $$"""
            {
              "Mesh": {
                "ServiceId": "order-service",
                "Resilience": { "Retry": {{retry}}, "CircuitBreaker": { "Enabled": false } },
                "Discovery": { "Services": [
                  { "Id": "payment-service", "Host": "127.0.0.1", "Port": {{port}} },
                  { "Id": "audit-service", "Host": "127.0.0.1", "Port": {{port}} } ] }
              }
            }
            """;
        return MeshClientHost.StartAsync(json, m => m.AddClient<PaymentLedgerClient>("payment-service").AddClient<Audit.AuditClient>("audit-service"), time);
    }

    private static MeshMetricsSnapshot Stats(MeshClientHost client) => client.Get<ISecureMesh>().GetStats().Services["payment-service"];
}
