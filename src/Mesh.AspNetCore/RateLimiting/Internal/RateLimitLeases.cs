using System.Threading.RateLimiting;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>The lease of an admitted request: one shared instance, since a fixed window has nothing to give back.</summary>
internal sealed class AcquiredLease : RateLimitLease
{
    public static readonly AcquiredLease Instance = new();

    private AcquiredLease()
    {
    }

    public override bool IsAcquired => true;

    public override IEnumerable<string> MetadataNames => [];

    public override bool TryGetMetadata(string metadataName, out object? metadata)
    {
        metadata = null;
        return false;
    }
}

/// <summary>The lease of a rejected request, carrying <see cref="MetadataName.RetryAfter"/>: the time until the partition's window admits again.</summary>
internal sealed class RejectedLease(TimeSpan retryAfter) : RateLimitLease
{
    private static readonly string[] Names = [MetadataName.RetryAfter.Name];
    private readonly object _retryAfter = retryAfter;

    public TimeSpan RetryAfter => (TimeSpan)_retryAfter;

    public override bool IsAcquired => false;

    public override IEnumerable<string> MetadataNames => Names;

    public override bool TryGetMetadata(string metadataName, out object? metadata)
    {
        if (metadataName == MetadataName.RetryAfter.Name)
        {
            metadata = _retryAfter;
            return true;
        }

        metadata = null;
        return false;
    }
}
