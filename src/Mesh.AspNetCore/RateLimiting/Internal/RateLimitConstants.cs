namespace Mesh.AspNetCore.RateLimiting.Internal;

internal static class RateLimitConstants
{
    public const int DefaultWindowMs = 60_000;
    public const int MaxWindowMs = 86_400_000;
}
