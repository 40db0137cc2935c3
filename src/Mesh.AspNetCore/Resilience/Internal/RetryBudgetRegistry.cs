using System.Collections.Concurrent;
using Grpc.Core;
using Mesh.AspNetCore.Telemetry.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>
/// The retry budgets of all target services, one per service id, for the application's lifetime: like the circuit
/// breakers, they outlive the call pipelines that the configuration reloads rebuild, so a reload keeps what they counted.
/// </summary>
internal sealed partial class RetryBudgetRegistry(
    IOptionsMonitor<SecureMeshOptions> options,
    TimeProvider timeProvider,
    MeshMetrics metrics,
    ILogger<RetryBudgetRegistry> logger)
{
    private readonly ConcurrentDictionary<string, RetryBudget> _budgets = new(StringComparer.OrdinalIgnoreCase);

    public RetryBudget Get(string serviceId) =>
        _budgets.GetOrAdd(serviceId, static (id, registry) => new RetryBudget(id, registry.CurrentRetryOptions, registry.TimeProvider), this);

    private RetryOptions CurrentRetryOptions => options.CurrentValue.Resilience.Retry;

    private TimeProvider TimeProvider => timeProvider;

    /// <summary>
    /// Takes a retry of <paramref name="method"/> from the budget of <paramref name="budget"/>'s service. A refusal is
    /// counted, logged at Warning when the budget first runs dry in a window and at Debug after that.
    /// </summary>
    public bool TryRetry(RetryBudget budget, string method, StatusCode status)
    {
        var decision = budget.TryWithdraw(timeProvider.GetTimestamp());
        if (decision == RetryBudgetDecision.Allowed)
        {
            return true;
        }

        metrics.RetryThrottled(budget.ServiceId, method, status);
        if (decision == RetryBudgetDecision.RefusedFirstInWindow)
        {
            LogBudgetExhausted(logger, budget.ServiceId, method, status);
        }
        else
        {
            LogRetryThrottled(logger, budget.ServiceId, method, status);
        }

        return false;
    }

    [LoggerMessage(EventId = 3101, EventName = "RetryBudgetExhausted", Level = LogLevel.Warning,
        Message = "The retry budget of service '{ServiceId}' is spent: a retry of {Method} after status {Status} was not made, and further retries to the service are refused until calls refill the budget.")]
    private static partial void LogBudgetExhausted(ILogger logger, string serviceId, string method, StatusCode status);

    [LoggerMessage(EventId = 3102, EventName = "RetryThrottled", Level = LogLevel.Debug,
        Message = "The retry budget of service '{ServiceId}' refused a retry of {Method} after status {Status}.")]
    private static partial void LogRetryThrottled(ILogger logger, string serviceId, string method, StatusCode status);
}
