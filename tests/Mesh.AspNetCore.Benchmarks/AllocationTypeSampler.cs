using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// Counts the runtime's allocation samples (one <c>GCAllocationTick</c> event about every 100 KB allocated) by type, in
/// this process: what a load run's servers allocate per request, by type. <c>--load --allocation-types</c>.
/// </summary>
internal sealed class AllocationTypeSampler : EventListener
{
    private const string RuntimeSource = "Microsoft-Windows-DotNETRuntime";
    private const EventKeywords GcKeyword = (EventKeywords)0x1;

    private readonly ConcurrentDictionary<string, long> _samples = new(StringComparer.Ordinal);

    /// <summary>Prints the most sampled types since the last call, and starts counting anew.</summary>
    public void PrintAndReset(string title, int top = 12)
    {
        Console.WriteLine($"allocation samples (about 100 KB each), {title}:");
        foreach (var (type, count) in _samples.OrderByDescending(static s => s.Value).Take(top))
        {
            Console.WriteLine($"  {count,6}  {type}");
        }

        _samples.Clear();
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == RuntimeSource)
        {
            EnableEvents(eventSource, EventLevel.Verbose, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) != true
            || eventData.PayloadNames is not { } names
            || eventData.Payload is not { } payload)
        {
            return;
        }

        var index = names.IndexOf("TypeName");
        if (index >= 0 && payload[index] is string type)
        {
            _samples.AddOrUpdate(type, 1, static (_, count) => count + 1);
        }
    }
}
