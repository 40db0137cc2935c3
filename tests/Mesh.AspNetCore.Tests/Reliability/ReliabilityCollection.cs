namespace Mesh.AspNetCore.Tests.Reliability;

/// <summary>
/// Reliability tests measure real time, process-wide memory and unobserved task exceptions: they run alone, so no other
/// test's load, garbage or faulted tasks mix with theirs.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ReliabilityCollection
{
    public const string Name = "Reliability: real time, memory and unobserved exceptions, measured alone";
}
