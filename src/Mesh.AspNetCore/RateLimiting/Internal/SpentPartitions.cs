using System.Collections.Concurrent;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>
/// The partitions this replica learned are spent, each with the time (from the injected <see cref="TimeProvider"/>) at
/// which its window in the shared store ends. A request of a spent partition is rejected here, with no round trip and
/// no allocation. Bounded by <see cref="RedisStoreConstants.MaxSpentCallers"/>; ended entries are dropped by
/// <see cref="RemoveEnded"/>.
/// </summary>
internal sealed class SpentPartitions(TimeProvider time, int capacity = RedisStoreConstants.MaxSpentCallers)
{
    private readonly ConcurrentDictionary<CallerKey, long> _until = new();
    private int _count;

    /// <summary>The number of partitions remembered.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Returns <see langword="true"/> with the time left when <paramref name="partition"/> is known to be spent at <paramref name="now"/>.</summary>
    public bool TryGetRetryAfter(CallerKey partition, long now, out TimeSpan retryAfter)
    {
        if (_until.TryGetValue(partition, out var until))
        {
            if (now < until)
            {
                retryAfter = time.GetElapsedTime(now, until);
                return true;
            }

            Remove(partition, until);
        }

        retryAfter = default;
        return false;
    }

    /// <summary>Remembers that <paramref name="partition"/> is spent until <paramref name="until"/>, unless the cache is full.</summary>
    public void Remember(CallerKey partition, long until)
    {
        if (_until.TryGetValue(partition, out var known))
        {
            _until.TryUpdate(partition, until, known);
            return;
        }

        if (Count < capacity && _until.TryAdd(partition, until))
        {
            Interlocked.Increment(ref _count);
        }
    }

    public void RemoveEnded(long now)
    {
        foreach (var entry in _until)
        {
            if (entry.Value <= now)
            {
                Remove(entry.Key, entry.Value);
            }
        }
    }

    /// <summary>Forgets every partition: the limits changed, so a partition spent under the old ones may be admitted now.</summary>
    public void Clear()
    {
        foreach (var entry in _until)
        {
            Remove(entry.Key, entry.Value);
        }
    }

    private void Remove(CallerKey partition, long until)
    {
        if (_until.TryRemove(new KeyValuePair<CallerKey, long>(partition, until)))
        {
            Interlocked.Decrement(ref _count);
        }
    }
}
