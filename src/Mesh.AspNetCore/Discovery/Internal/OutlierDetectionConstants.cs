namespace Mesh.AspNetCore.Discovery.Internal;

internal static class OutlierDetectionConstants
{
    public const int DefaultConsecutiveFailures = 5;
    public const int MaxConsecutiveFailures = 10_000;
    public const int DefaultBaseEjectionTimeMs = 30_000;
    public const int MaxBaseEjectionTimeMs = 86_400_000;
    public const int DefaultMaxEjectionPercent = 50;
}
