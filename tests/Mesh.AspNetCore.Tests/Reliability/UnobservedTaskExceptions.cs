namespace Mesh.AspNetCore.Tests.Reliability;

/// <summary>
/// Collects the exceptions of faulted tasks that nobody observed (<see cref="TaskScheduler.UnobservedTaskException"/>).
/// Such a task is only reported when the garbage collector finalizes it, so <see cref="CollectAsync"/> forces that.
/// </summary>
public sealed class UnobservedTaskExceptions : IDisposable
{
    private readonly List<Exception> _exceptions = [];

    private UnobservedTaskExceptions() => TaskScheduler.UnobservedTaskException += OnUnobserved;

    /// <summary>Starts collecting, after finalizing what earlier tests left behind.</summary>
    public static UnobservedTaskExceptions Start()
    {
        FinalizeGarbage();
        return new UnobservedTaskExceptions();
    }

    /// <summary>Finalizes unreachable tasks and returns the unobserved exceptions reported so far.</summary>
    public async Task<IReadOnlyList<Exception>> CollectAsync()
    {
        // Let continuations that are about to observe their tasks run first.
        await Task.Yield();
        FinalizeGarbage();
        lock (_exceptions)
        {
            return [.. _exceptions];
        }
    }

    public void Dispose() => TaskScheduler.UnobservedTaskException -= OnUnobserved;

    private static void FinalizeGarbage()
    {
        for (var i = 0; i < 2; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }

    private void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e)
    {
        lock (_exceptions)
        {
            _exceptions.AddRange(e.Exception.InnerExceptions);
        }
    }
}
