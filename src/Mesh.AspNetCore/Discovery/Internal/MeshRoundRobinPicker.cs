using Grpc.Net.Client.Balancer;

namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>
/// Round robin over the ready subchannels, skipping ejected endpoints. It allocates nothing per call: the pick results
/// are built once per picker (a new picker comes with every change of the ready set). When every ready endpoint is
/// ejected (outlier detection never ejects all, but the others may be down), it picks among them rather than fail.
/// </summary>
internal sealed class MeshRoundRobinPicker : SubchannelPicker
{
    private readonly PickResult[] _results;
    private readonly EndpointState?[] _endpoints;
    private readonly Counter _counter;

    public MeshRoundRobinPicker(IReadOnlyList<Subchannel> readySubchannels, Counter counter)
    {
        _counter = counter;
        _results = new PickResult[readySubchannels.Count];
        _endpoints = new EndpointState?[readySubchannels.Count];
        for (var i = 0; i < readySubchannels.Count; i++)
        {
            _results[i] = PickResult.ForSubchannel(readySubchannels[i]);
            _endpoints[i] = readySubchannels[i].Attributes.TryGetValue(EndpointState.Key, out var endpoint) ? endpoint : null;
        }
    }

    public override PickResult Pick(PickContext context)
    {
        var count = (ulong)_results.Length;
        var index = 0;
        // An ejected endpoint takes its turn of the counter, so the others share its calls evenly.
        for (ulong tries = 0; tries < count; tries++)
        {
            index = (int)((ulong)Interlocked.Increment(ref _counter.Value) % count);
            if (_endpoints[index] is not { IsEjected: true })
            {
                return _results[index];
            }
        }

        return _results[index];
    }

    /// <summary>The round-robin position, shared by the successive pickers of one balancer.</summary>
    internal sealed class Counter
    {
        public long Value;
    }
}
