using Mesh.Demo;

namespace Mesh.AspNetCore.Tests.Samples;

/// <summary>
/// Runs the demo of samples/Mesh.Demo in its short mode: three real services on loopback, real faults injected through
/// their control endpoints, and the order service's mesh reacting to them.
/// </summary>
public sealed class DemoRunnerTests
{
    [Fact]
    public async Task RunAsync_ShortRun_ShowsEveryPatternActing()
    {
        var output = new StringWriter();

        var result = await DemoRunner.RunAsync(
            new DemoOptions { Duration = TimeSpan.FromSeconds(16), Quiet = true }, output, TestContext.Current.CancellationToken);

        var transcript = output.ToString();
        Assert.True(result.RetrySucceeded, "no retry that succeeded\n" + transcript);
        Assert.True(result.CircuitOpened, "the breaker never opened\n" + transcript);
        Assert.True(result.HalfOpenTrial, "no half-open trial\n" + transcript);
        Assert.True(result.CircuitClosed, "the breaker did not close again\n" + transcript);
        Assert.True(result.RateLimitRejected, "no rate-limit rejection\n" + transcript);
        Assert.True(result.BackedOffAndSucceeded, "no call backed off with pushback and succeeded\n" + transcript);
        Assert.Contains("\"circuitBreakerState\"", transcript, StringComparison.Ordinal);
        Assert.NotNull(result.Replicas);
        Assert.True(result.Replicas.BadReplicaEjected, "the bad inventory replica was not ejected\n" + transcript);
        Assert.True(result.Replicas.OrdersAccepted > 0, "no order accepted while a replica was bad\n" + transcript);
        Assert.True(result.Replicas.OrdersRejected == 0, "orders failed while a replica was bad\n" + transcript);
        Assert.True(result.Replicas.BreakerStayedClosed, "one bad replica opened the breaker\n" + transcript);
        Assert.Contains("\"endpoints\"", transcript, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^dashboard: http://127\.0\.0\.1:\d+/mesh/dashboard\r?$", transcript);
    }

    [Theory]
    [InlineData("--duration", "5")]
    [InlineData("--bogus")]
    public void Parse_InvalidOption_Throws(params string[] args) =>
        Assert.Throws<DemoUsageException>(() => DemoOptions.Parse(args));

    [Fact]
    public void Parse_DurationAndQuiet_AreRead()
    {
        var options = DemoOptions.Parse(["--duration", "25", "--quiet"]);

        Assert.Equal((TimeSpan.FromSeconds(25), true), (options.Duration, options.Quiet));
    }

    [Fact]
    public void Parse_Linger_IsRead()
    {
        Assert.Equal(
            (TimeSpan.FromSeconds(30), TimeSpan.Zero),
            (DemoOptions.Parse(["--linger", "30"]).Linger, DemoOptions.Parse([]).Linger));
        Assert.Throws<DemoUsageException>(() => DemoOptions.Parse(["--linger", "-1"]));
    }
}
