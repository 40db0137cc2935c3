namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>The key of a target service's call pipeline in Polly's pipeline registry.</summary>
internal readonly record struct MeshPipelineKey(string ServiceId)
{
    /// <summary>The pipeline's name in Polly's telemetry (<c>pipeline.name</c>): <c>mesh-client:&lt;service id&gt;</c>.</summary>
    public override string ToString() => "mesh-client:" + ServiceId;
}
