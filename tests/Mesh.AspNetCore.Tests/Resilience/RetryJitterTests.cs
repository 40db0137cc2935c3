using Mesh.AspNetCore.Resilience;
using Mesh.AspNetCore.Resilience.Internal;
using Mesh.AspNetCore.Telemetry.Internal;
using Mesh.AspNetCore.Tests.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>The promised jitter curve: each delay uniform between half and all of the unjittered delay.</summary>
public sealed class RetryJitterTests
{
    private static MeshRetry Retry(Func<double> random, bool useJitter = true)
    {
        using var services = TelemetryTestServices.Build();
        var options = new RetryOptions { MaxAttempts = 6, InitialDelay = 1000, MaxDelay = 3000, UseJitter = useJitter };
        return new MeshRetry(options, "inventory-service", services.GetRequiredService<MeshMetrics>(), TimeProvider.System, random: random);
    }

    [Theory]
    [InlineData(0.0, new[] { 500.0, 1000, 1500, 1500, 1500, 1500 })]
    [InlineData(0.5, new[] { 750.0, 1500, 2250, 2250, 2250, 2250 })]
    [InlineData(0.9, new[] { 950.0, 1900, 2850, 2850, 2850, 2850 })]
    public void RetryDelay_UseJitter_BetweenHalfAndAllOfTheExponentialDelay(double random, double[] expectedMs)
    {
        var retry = Retry(() => random);

        var delays = Enumerable.Range(0, 6).Select(retry.RetryDelay).Select(d => Math.Round(d.TotalMilliseconds, 4));

        Assert.Equal(expectedMs, delays);
    }

    [Fact]
    public void RetryDelay_UseJitterOverManyCalls_UniformWithAMeanOfThreeQuartersOfTheCurve()
    {
        var random = new Random(20261202);
        var retry = Retry(random.NextDouble);
        const int Samples = 20_000;

        for (var attempt = 0; attempt < 4; attempt++)
        {
            var curve = retry.BackoffDelay(attempt).TotalMilliseconds;
            var delays = Enumerable.Range(0, Samples).Select(_ => retry.RetryDelay(attempt).TotalMilliseconds).ToList();

            Assert.All(delays, d => Assert.InRange(d, curve * 0.5, curve));
            Assert.InRange(delays.Average() / curve, 0.74, 0.76);

            // Uniform: each quarter of the range [0.5, 1.0] holds about a quarter of the delays.
            var quarters = delays.GroupBy(d => Math.Min(3, (int)((d / curve - 0.5) / 0.125))).ToDictionary(g => g.Key, g => g.Count());
            Assert.All(Enumerable.Range(0, 4), q => Assert.InRange(quarters.GetValueOrDefault(q), Samples * 0.23, Samples * 0.27));
        }
    }

    [Fact]
    public void RetryDelay_NoJitter_IsTheExponentialCurve()
    {
        var retry = Retry(() => 0.0, useJitter: false);

        Assert.Equal([1000.0, 2000, 3000, 3000, 3000, 3000], Enumerable.Range(0, 6).Select(a => retry.RetryDelay(a).TotalMilliseconds));
    }
}
