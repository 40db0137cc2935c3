using System.Collections.Concurrent;
using Grpc.Core;

namespace InventoryService;

public enum FaultMode
{
    Healthy,
    Transient,
    Down,
}

/// <summary>
/// Makes the service fail on request, the way a real dependency fails. <see cref="FaultMode.Transient"/> fails the
/// first attempt of every order and lets its retry through; <see cref="FaultMode.Down"/> fails every call.
/// </summary>
public sealed class FaultInjector
{
    private readonly ConcurrentDictionary<string, byte> _failedOnce = new();
    private int _mode;

    public FaultMode Mode => (FaultMode)Volatile.Read(ref _mode);

    public bool TrySet(string mode)
    {
        if (!Enum.TryParse<FaultMode>(mode, ignoreCase: true, out var parsed) || !Enum.IsDefined(parsed))
        {
            return false;
        }

        _failedOnce.Clear();
        Volatile.Write(ref _mode, (int)parsed);
        return true;
    }

    public void ThrowIfFailing(string orderId)
    {
        switch (Mode)
        {
            case FaultMode.Transient when _failedOnce.TryAdd(orderId, 0):
                throw new RpcException(new Status(StatusCode.Unavailable, "inventory-service: transient failure (injected)"));
            case FaultMode.Down:
                throw new RpcException(new Status(StatusCode.Unavailable, "inventory-service is down (injected)"));
        }
    }
}
