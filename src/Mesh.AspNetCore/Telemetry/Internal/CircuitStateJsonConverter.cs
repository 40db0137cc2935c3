using System.Text.Json;
using System.Text.Json.Serialization;

namespace Mesh.AspNetCore.Telemetry.Internal;

/// <summary>Writes <see cref="CircuitState"/> as <c>"closed"</c>, <c>"open"</c> or <c>"half_open"</c>, and reads those words back.</summary>
internal sealed class CircuitStateJsonConverter : JsonConverter<CircuitState>
{
    private static readonly JsonEncodedText s_closed = JsonEncodedText.Encode(CircuitStateNames.Closed);
    private static readonly JsonEncodedText s_open = JsonEncodedText.Encode(CircuitStateNames.Open);
    private static readonly JsonEncodedText s_halfOpen = JsonEncodedText.Encode(CircuitStateNames.HalfOpen);

    public override CircuitState Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            if (reader.ValueTextEquals(s_closed.EncodedUtf8Bytes))
            {
                return CircuitState.Closed;
            }

            if (reader.ValueTextEquals(s_open.EncodedUtf8Bytes))
            {
                return CircuitState.Open;
            }

            if (reader.ValueTextEquals(s_halfOpen.EncodedUtf8Bytes))
            {
                return CircuitState.HalfOpen;
            }
        }

        throw new JsonException("A circuit state is \"closed\", \"open\" or \"half_open\".");
    }

    public override void Write(Utf8JsonWriter writer, CircuitState value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStringValue(value switch
        {
            CircuitState.Open => s_open,
            CircuitState.HalfOpen => s_halfOpen,
            CircuitState.Closed => s_closed,
            _ => throw new JsonException($"Unknown circuit state {(int)value}."),
        });
    }
}
