using System.Text.Json.Serialization;

namespace Mesh.AspNetCore.Telemetry.Internal;

/// <summary>The JSON shape of <see cref="MeshStats"/>: camelCase properties, service ids as written, circuit states as words.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    Converters = [typeof(CircuitStateJsonConverter)])]
[JsonSerializable(typeof(MeshStats))]
internal sealed partial class MeshStatsJsonContext : JsonSerializerContext;
