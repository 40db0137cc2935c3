namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>The key of a target service's call pipeline in Polly's pipeline registry.</summary>
internal readonly record struct MeshPipelineKey(string ServiceId);
