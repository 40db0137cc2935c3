using Mesh.AspNetCore.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Configuration;

/// <summary>A configuration reload racing the application's shutdown: no exception reaches the code that reloads, none is logged.</summary>
public sealed class ReloadDuringDisposeTests
{
    [Fact]
    public async Task Reload_WhileTheHostIsDisposed_NothingThrowsAndNothingIsLoggedAsAnError()
    {
        var failures = new List<Exception>();
        for (var round = 0; round < 20; round++)
        {
            var client = await MeshClientHost.StartAsync(MeshConfig.For(50054), m => m.AddClient<InventoryClient>("inventory-service"));
            var logs = client.Logs;
            var reloads = 0;
            var disposed = 0;
            var manyReloads = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var reloading = Task.Factory.StartNew(
                () =>
                {
                    // Reloads go on until well after the disposal, as a file watcher's would.
                    for (var after = 0; after < 200; reloads++)
                    {
                        try
                        {
                            client.Reload(("Mesh:Resilience:Retry:MaxAttempts", ((reloads % 5) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)));
                        }
                        catch (Exception ex)
                        {
                            lock (failures)
                            {
                                failures.Add(ex);
                            }
                        }

                        if (reloads == 50)
                        {
                            manyReloads.SetResult();
                        }

                        if (Volatile.Read(ref disposed) == 1)
                        {
                            after++;
                        }
                    }
                },
                TestContext.Current.CancellationToken,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);

            await manyReloads.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
            await client.DisposeAsync();
            Volatile.Write(ref disposed, 1);
            await reloading.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

            Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error);
        }

        Assert.Empty(failures);
    }
}
