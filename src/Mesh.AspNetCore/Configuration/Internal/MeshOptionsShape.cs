using System.Text.Json.Serialization;

namespace Mesh.AspNetCore.Configuration.Internal;

/// <summary>
/// Compile-time metadata of <see cref="SecureMeshOptions"/> and every options type it reaches: property names, types
/// and whether they can be set. <see cref="UnknownKeys"/> reads it instead of reflecting over the types, so the check
/// is trim- and native-AOT-safe, and a new options property is a known key without being listed anywhere else.
/// </summary>
[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Metadata)]
[JsonSerializable(typeof(SecureMeshOptions))]
internal sealed partial class MeshOptionsShape : JsonSerializerContext;
