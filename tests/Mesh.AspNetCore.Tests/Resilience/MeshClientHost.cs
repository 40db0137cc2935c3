using System.Text;
using Mesh.AspNetCore.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>
/// The calling service: a generic host with <c>AddSecureMesh()</c>, its clients, a fake clock and a configuration
/// that the test can change at run time (like an edited appsettings.json).
/// </summary>
public sealed class MeshClientHost : IAsyncDisposable
{
    private readonly ReloadableConfiguration _configuration;
    private readonly FakeTimeProvider? _fakeTime;

    private MeshClientHost(IHost host, ReloadableConfiguration configuration, FakeTimeProvider? fakeTime)
    {
        Host = host;
        _configuration = configuration;
        _fakeTime = fakeTime;
    }

    public IHost Host { get; }

    public IServiceProvider Services => Host.Services;

    public TestLoggerProvider Logs => Services.GetRequiredService<TestLoggerProvider>();

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    /// <summary>
    /// Builds and starts the host from an appsettings.json document; <see cref="Logs"/> keeps entries from
    /// <paramref name="minimumLogLevel"/> up.
    /// </summary>
    public static async Task<MeshClientHost> StartAsync(
        string json, Action<ISecureMeshBuilder> addClients, TimeProvider? timeProvider = null, LogLevel minimumLogLevel = LogLevel.Information)
    {
        var (host, configuration) = Build(json, addClients, timeProvider, minimumLogLevel);
        try
        {
            await host.StartAsync(TestContext.Current.CancellationToken);
        }
        catch
        {
            host.Dispose();
            throw;
        }

        return new MeshClientHost(host, configuration, timeProvider as FakeTimeProvider);
    }

    public static (IHost Host, ReloadableConfiguration Configuration) Build(
        string json, Action<ISecureMeshBuilder> addClients, TimeProvider? timeProvider = null, LogLevel minimumLogLevel = LogLevel.Information)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Testing" });
        var configuration = new ReloadableConfiguration(Flatten(json));
        ((IConfigurationBuilder)builder.Configuration).Add(configuration);
        var logs = new TestLoggerProvider(minimumLogLevel);
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(minimumLogLevel);
        builder.Logging.AddProvider(logs);
        builder.Services.AddSingleton(logs);
        if (timeProvider is not null)
        {
            builder.Services.AddSingleton(timeProvider);
        }

        addClients(builder.Services.AddSecureMesh());
        return (builder.Build(), configuration);
    }

    /// <summary>Changes configuration values and raises the reload, as an edit of appsettings.json would.</summary>
    public void Reload(params (string Key, string? Value)[] changes) => _configuration.Reload(changes);

    /// <summary>Replaces the whole configuration with another appsettings.json document and raises the reload, as saving an edited file would.</summary>
    public void ReloadJson(string json) => _configuration.Replace(Flatten(json));

    private static Dictionary<string, string?> Flatten(string json) =>
        new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build()
            .AsEnumerable().Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.OrdinalIgnoreCase);

    public async ValueTask DisposeAsync()
    {
        await Host.StopAsync(CancellationToken.None);
        if (_fakeTime is null)
        {
            Host.Dispose();
            return;
        }

        // Polly's registry, when disposed, waits for executions that have not unwound yet by sleeping one second at a
        // time on the pipeline's clock: on a fake clock that sleep ends only when the clock moves. A call that ended
        // for its caller may still be unwinding, so the clock is moved a second at a time until disposal is done.
        var disposal = Task.Run(Host.Dispose);
        while (!disposal.IsCompleted)
        {
            _fakeTime.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(disposal, Task.Delay(TimeSpan.FromMilliseconds(10)));
        }

        await disposal;
    }
}

/// <summary>An in-memory configuration source whose values can change at run time, raising a reload.</summary>
public sealed class ReloadableConfiguration : ConfigurationProvider, IConfigurationSource
{
    public ReloadableConfiguration(IDictionary<string, string?> initial) =>
        Data = new Dictionary<string, string?>(initial, StringComparer.OrdinalIgnoreCase);

    public IConfigurationProvider Build(IConfigurationBuilder builder) => this;

    public override void Load()
    {
        // Values live in Data; a root reload must not reset them.
    }

    public void Reload(params (string Key, string? Value)[] changes)
    {
        foreach (var (key, value) in changes)
        {
            Data[key] = value;
        }

        OnReload();
    }

    /// <summary>Replaces every value (keys left out are gone) and raises a reload.</summary>
    public void Replace(IDictionary<string, string?> data)
    {
        Data = new Dictionary<string, string?>(data, StringComparer.OrdinalIgnoreCase);
        OnReload();
    }
}
