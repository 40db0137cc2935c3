using Mesh.AspNetCore.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Tests.Configuration;

/// <summary>Reloading the configuration applies valid values and refuses invalid ones without stopping the service.</summary>
public sealed class ConfigurationReloadTests
{
    [Fact]
    public async Task Reload_ValidValue_IsApplied()
    {
        await using var host = await StartAsync();
        var monitor = host.Services.GetRequiredService<IOptionsMonitor<SecureMeshOptions>>();
        var applied = new TaskCompletionSource<SecureMeshOptions>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscription = monitor.OnChange(o => applied.TrySetResult(o));

        Set(host, "Mesh:Resilience:Retry:MaxAttempts", "5");

        Assert.Equal(5, (await applied.Task.WaitAsync(TestContext.Current.CancellationToken)).Resilience.Retry.MaxAttempts);
        Assert.Equal(5, monitor.CurrentValue.Resilience.Retry.MaxAttempts);
    }

    [Theory]
    [InlineData("Mesh:Resilience:Retry:MaxAttempts", "-1")]
    [InlineData("Mesh:Resilience:Retry:MaxAttempts", "lots")]
    [InlineData("Mesh:Resilience:CircuitBreaker:Timeout", "0")]
    [InlineData("Mesh:Resilience:RateLimit:MaxReqests", "10")]
    public async Task Reload_InvalidValue_KeepsLastValidConfigurationAndLogsTheKey(string key, string value)
    {
        await using var host = await StartAsync();
        var monitor = host.Services.GetRequiredService<IOptionsMonitor<SecureMeshOptions>>();
        var changes = 0;
        using var subscription = monitor.OnChange(_ => Interlocked.Increment(ref changes));

        Set(host, key, value);

        Assert.Equal(3, monitor.CurrentValue.Resilience.Retry.MaxAttempts);
        Assert.Equal(60000, monitor.CurrentValue.Resilience.CircuitBreaker.Timeout);
        Assert.Equal(0, changes);
        var error = Assert.Single(host.Logs.Entries, e => e.EventId.Id == 1001);
        Assert.Equal(LogLevel.Error, error.Level);
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reload_InvalidThenValid_AppliesTheValidOne()
    {
        await using var host = await StartAsync();
        var monitor = host.Services.GetRequiredService<IOptionsMonitor<SecureMeshOptions>>();

        Set(host, "Mesh:Resilience:Retry:InitialDelay", "0");
        Set(host, "Mesh:Resilience:Retry:InitialDelay", "250");

        Assert.Equal(250, monitor.CurrentValue.Resilience.Retry.InitialDelay);
    }

    [Fact]
    public async Task Reload_ConfigurationTurnsInvalidRightAfterValidation_ValidatedOptionsStayInForce()
    {
        var armed = 0;
        MemoryConfigurationProvider? provider = null;
        await using var host = await StartAsync(services => services.Configure<SecureMeshOptions>(_ =>
        {
            // Runs inside the build that validates the reload: the next change lands before the monitor reads the
            // options, without a reload of its own.
            if (Interlocked.Exchange(ref armed, 0) == 1)
            {
                provider!.Set("Mesh:Resilience:Retry:MaxAttempts", "-1");
            }
        }));
        provider = ((IConfigurationRoot)host.App.Configuration).Providers.OfType<MemoryConfigurationProvider>().Last();
        var monitor = host.Services.GetRequiredService<IOptionsMonitor<SecureMeshOptions>>();

        Volatile.Write(ref armed, 1);
        Set(host, "Mesh:Resilience:Retry:MaxAttempts", "5");

        Assert.Equal(5, monitor.CurrentValue.Resilience.Retry.MaxAttempts);
        Assert.Equal(5, monitor.CurrentValue.Resilience.Retry.MaxAttempts);
    }

    [Fact]
    public async Task Reload_ChangeSubscriberThrows_ReportedAsSubscriberFailureNotAsInvalidConfiguration()
    {
        await using var host = await StartAsync();
        var monitor = host.Services.GetRequiredService<IOptionsMonitor<SecureMeshOptions>>();
        using var subscription = monitor.OnChange(_ => throw new InvalidOperationException("subscriber failed"));

        Set(host, "Mesh:Resilience:Retry:MaxAttempts", "5");

        Assert.Equal(5, monitor.CurrentValue.Resilience.Retry.MaxAttempts);
        Assert.DoesNotContain(host.Logs.Entries, e => e.EventId.Id == 1001);
        var error = Assert.Single(host.Logs.Entries, e => e.EventId.Id == 1002);
        Assert.Equal(LogLevel.Error, error.Level);
    }

    private static Task<MeshTestHost> StartAsync(Action<IServiceCollection>? services = null) => MeshTestHost.StartAsync(
        """{ "Mesh": { "ServiceId": "reloading-service" } }""",
        b =>
        {
            b.Configuration.AddInMemoryCollection();
            b.Services.AddSecureMesh();
            services?.Invoke(b.Services);
        },
        _ => { });

    private static void Set(MeshTestHost host, string key, string value)
    {
        var root = (IConfigurationRoot)host.App.Configuration;
        root.Providers.OfType<MemoryConfigurationProvider>().Last().Set(key, value);
        root.Reload();
    }
}
