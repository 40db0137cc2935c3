using Grpc.Core;
using Mesh.AspNetCore.Tests.Infrastructure;
using Mesh.AspNetCore.Tests.Protos;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>
/// A replica that shuts down closes its connections with <c>GOAWAY(NO_ERROR)</c>; a request it had accepted but not
/// answered ends, in grpc-dotnet, with <see cref="StatusCode.Internal"/>. The mesh retries it as gRPC's protocol
/// says of a server going away (the call is <see cref="StatusCode.Unavailable"/> for retrying), so a rolling restart
/// does not fail callers, while <c>OnlyIdempotent</c> still keeps it from repeating a call that may have been handled.
/// </summary>
public sealed class ServerGoingAwayTests
{
    private static readonly LedgerRequest Request = new() { Account = "acct-1", Amount = 250 };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Call_ServerClosesTheConnectionWithNoErrorBeforeAnswering_Retried()
    {
        await using var server = new GoAwayServer();
        await using var client = await IdempotentRetryTests.StartClientAsync(server.Port, "{}");

        await Assert.ThrowsAsync<RpcException>(() => client.Get<PaymentLedgerClient>().ChargeAsync(Request, cancellationToken: Ct).ResponseAsync);

        // The first attempt reached the server and was cut off: it was retried. (Later attempts may also fail to
        // connect while the channel reconnects, so only the first one's outcome is fixed.) grpc-dotnet reports the
        // GOAWAY (Internal, NO_ERROR) or, when it reads the closed connection first, Unavailable.
        var retried = client.Logs.Entries.Where(e => e.EventId.Name == "CallAttemptFailed").ToList();
        Assert.NotEmpty(retried);
        Assert.StartsWith("Attempt 1 ", retried[0].Message, StringComparison.Ordinal);
        Assert.True(
            retried[0].Message.Contains("status Unavailable", StringComparison.Ordinal)
            || (retried[0].Message.Contains("status Internal", StringComparison.Ordinal) && retried[0].Message.Contains("NO_ERROR", StringComparison.Ordinal)),
            retried[0].Message);
        Assert.True(server.Requests >= 1);
        Assert.Equal(3, client.Get<ISecureMesh>().GetStats().Services["payment-service"].Retries);
    }

    [Fact]
    public async Task Call_OnlyIdempotentServerClosesTheConnectionBeforeAnswering_UndeclaredMethodNotRetried()
    {
        await using var server = new GoAwayServer();
        await using var client = await IdempotentRetryTests.StartClientAsync(server.Port, """{ "OnlyIdempotent": true }""");

        var error = await Assert.ThrowsAsync<RpcException>(() => client.Get<PaymentLedgerClient>().ChargeAsync(Request, cancellationToken: Ct).ResponseAsync);

        // grpc-dotnet reports the GOAWAY (Internal, NO_ERROR) or, when it reads the closed connection first, Unavailable;
        // either way the request reached the server and is not retried.
        Assert.True(
            error.StatusCode == StatusCode.Unavailable
            || (error.StatusCode == StatusCode.Internal && error.Status.Detail.Contains("NO_ERROR", StringComparison.Ordinal)),
            $"{error.StatusCode}: {error.Status.Detail}");
        Assert.Equal(1, server.Requests);
        Assert.DoesNotContain(client.Logs.Entries, e => e.EventId.Name == "CallAttemptFailed");
    }
}
