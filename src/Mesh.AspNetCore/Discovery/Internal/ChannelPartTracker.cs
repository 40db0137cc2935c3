namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>
/// Keeps the resolvers and balancers that the mesh's factories create for gRPC channels, and disposes them with the
/// application. Grpc.Net.ClientFactory never disposes the channels it caches, so without this the subchannels of a
/// stopped application would go on reconnecting to their endpoints.
/// </summary>
internal sealed class ChannelPartTracker : IDisposable
{
    private readonly Lock _lock = new();
    private List<IDisposable>? _parts = [];

    /// <summary>Keeps <paramref name="part"/> until the tracker is disposed; disposes it at once when that already happened.</summary>
    public T Track<T>(T part)
        where T : IDisposable
    {
        lock (_lock)
        {
            if (_parts is not null)
            {
                _parts.Add(part);
                return part;
            }
        }

        part.Dispose();
        return part;
    }

    public void Dispose()
    {
        List<IDisposable>? parts;
        lock (_lock)
        {
            parts = _parts;
            _parts = null;
        }

        foreach (var part in parts ?? [])
        {
            part.Dispose();
        }
    }
}
