using Grpc.Net.ClientFactory;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>
/// Makes a mesh client's <see cref="GrpcClientFactoryOptions"/> (its address) follow reloads of the mesh options, so
/// that channels the client factory creates after a reload use the reloaded discovery entry. It signals after the
/// mesh options monitor has taken the new values, because the client factory's monitor rebuilds its options at once.
/// </summary>
internal sealed class DiscoveryChangeTokenSource : IOptionsChangeTokenSource<GrpcClientFactoryOptions>, IDisposable
{
    private readonly IDisposable? _subscription;
    private CancellationTokenSource _changed = new();

    public DiscoveryChangeTokenSource(string name, IOptionsMonitor<SecureMeshOptions> monitor)
    {
        Name = name;
        _subscription = monitor.OnChange(_ => OnMeshOptionsChanged());
    }

    public string Name { get; }

    public IChangeToken GetChangeToken() => new CancellationChangeToken(Volatile.Read(ref _changed).Token);

    public void Dispose()
    {
        _subscription?.Dispose();
        _changed.Dispose();
    }

    private void OnMeshOptionsChanged()
    {
        var previous = Interlocked.Exchange(ref _changed, new CancellationTokenSource());
        previous.Cancel();
        previous.Dispose();
    }
}
