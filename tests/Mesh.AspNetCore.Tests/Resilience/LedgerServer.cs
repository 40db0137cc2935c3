using System.Collections.Concurrent;
using Grpc.Core;
using Mesh.AspNetCore.Tests.Infrastructure;
using Mesh.AspNetCore.Tests.Protos;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>What the ledger service does (fail every call with <see cref="Failure"/> by default) and which handlers ran.</summary>
public sealed class LedgerScript
{
    private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);

    /// <summary>The status every handler fails with; <see cref="StatusCode.OK"/> answers instead.</summary>
    public StatusCode Failure { get; set; } = StatusCode.Unavailable;

    /// <summary>How many times the handler of <paramref name="method"/> (such as "Charge") ran.</summary>
    public int Calls(string method) => _calls.GetValueOrDefault(method);

    public int TotalCalls => _calls.Values.Sum();

    internal Task<LedgerReply> Handle(string method)
    {
        _calls.AddOrUpdate(method, 1, static (_, n) => n + 1);
        return Failure == StatusCode.OK
            ? Task.FromResult(new LedgerReply { Balance = 100 })
            : throw new RpcException(new Status(Failure, $"{method} failed after the handler ran"));
    }
}

public sealed class ScriptedLedger(LedgerScript script) : Ledger.LedgerBase
{
    public override Task<LedgerReply> Charge(LedgerRequest request, ServerCallContext context) => script.Handle("Charge");

    public override Task<LedgerReply> Refund(LedgerRequest request, ServerCallContext context) => script.Handle("Refund");

    public override Task<LedgerReply> GetBalance(LedgerRequest request, ServerCallContext context) => script.Handle("GetBalance");

    public override Task<LedgerReply> SetLimit(LedgerRequest request, ServerCallContext context) => script.Handle("SetLimit");
}

public sealed class ScriptedAudit(LedgerScript script) : Audit.AuditBase
{
    public override Task<LedgerReply> Record(LedgerRequest request, ServerCallContext context) => script.Handle("Record");
}

/// <summary>
/// A real Kestrel server on 127.0.0.1 hosting the ledger and audit services; with <paramref name="meshJson"/>, a mesh
/// service (<c>AddSecureMesh</c>) whose inbound rate limiter runs before the handlers.
/// </summary>
public static class LedgerServer
{
    public static Task<MeshTestHost> StartAsync(LedgerScript script, string? meshJson = null, int port = 0) =>
        MeshTestHost.StartAsync(
            meshJson,
            b =>
            {
                b.Services.AddGrpc();
                if (meshJson is not null)
                {
                    b.Services.AddSecureMesh();
                }

                b.Services.AddSingleton(script);
            },
            app =>
            {
                app.MapGrpcService<ScriptedLedger>();
                app.MapGrpcService<ScriptedAudit>();
            },
            port);
}

/// <summary>Typed clients of the ledger test services, as an application would register them.</summary>
public sealed class PaymentLedgerClient(CallInvoker callInvoker) : Ledger.LedgerClient(callInvoker);
