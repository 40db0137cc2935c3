using Grpc.Net.Client;

namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>
/// Bounds a mesh client channel's own reconnect backoff by the pace at which the mesh tries a service again. After a
/// failed connection, a gRPC channel fails calls at once ("Error connecting to subchannel") until its next connection
/// attempt, 1 s after the first failure and growing to 120 s by default. Left alone, that backoff fails the breaker's
/// half-open trials (and the retries) for up to two minutes after the service came back, reopening the breaker each time.
/// </summary>
internal static class ChannelReconnectBackoff
{
    private static readonly TimeSpan ChannelDefaultInitial = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ChannelDefaultMax = TimeSpan.FromSeconds(120);

    /// <summary>
    /// The channel tries to reconnect at least once per breaker <c>Timeout</c> (per retry <c>MaxDelay</c> when the breaker
    /// is off), so a trial or retry made that long after the service came back finds a connection. Read when the client
    /// factory creates the channel, so a reloaded value applies to the channels created after it.
    /// </summary>
    public static void Apply(GrpcChannelOptions channel, ResilienceOptions resilience)
    {
        var pace = resilience.CircuitBreaker.Enabled ? TimeSpan.FromMilliseconds(resilience.CircuitBreaker.Timeout)
            : resilience.Retry.Enabled ? TimeSpan.FromMilliseconds(resilience.Retry.MaxDelay)
            : ChannelDefaultMax;
        var max = pace < ChannelDefaultMax ? pace : ChannelDefaultMax;
        channel.MaxReconnectBackoff = max;
        channel.InitialReconnectBackoff = max < ChannelDefaultInitial ? max : ChannelDefaultInitial;
    }
}
