using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Configuration;

namespace Mesh.AspNetCore.Configuration.Internal;

/// <summary>
/// Finds configuration keys that bind to nothing, so that a misspelt key fails at startup instead of being ignored.
/// </summary>
/// <remarks>
/// The known keys of each options type come from <see cref="MeshOptionsShape"/>, metadata generated at compile time:
/// no reflection, so the check works trimmed and in native AOT. A key is known when it names a public property the
/// configuration binder fills: one with a public setter, or an object, list or dictionary it fills in place.
/// </remarks>
internal static class UnknownKeys
{
    private static readonly ConcurrentDictionary<Type, Dictionary<string, Type>> Properties = new();

    public static void Collect(IConfiguration configuration, Type type, string path, List<string> errors)
    {
        var properties = Properties.GetOrAdd(type, static t => KnownProperties(ShapeOf(t)));

        foreach (var child in configuration.GetChildren())
        {
            var childPath = $"{path}:{child.Key}";
            if (!properties.TryGetValue(child.Key, out var propertyType))
            {
                var known = string.Join(", ", properties.Keys.Order(StringComparer.Ordinal));
                errors.Add($"{childPath} is not a known setting; {path} accepts {known}.");
                continue;
            }

            CollectValue(child, propertyType, childPath, errors);
        }
    }

    private static void CollectValue(IConfigurationSection section, Type type, string path, List<string> errors)
    {
        var shape = ShapeOf(type);
        switch (shape.Kind)
        {
            case JsonTypeInfoKind.Enumerable:
                foreach (var item in section.GetChildren())
                {
                    var itemPath = $"{path}:{item.Key}";
                    if (!int.TryParse(item.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                    {
                        errors.Add($"{itemPath} is not a known setting; {path} is a list.");
                    }
                    else
                    {
                        CollectValue(item, shape.ElementType!, itemPath, errors);
                    }
                }

                break;
            case JsonTypeInfoKind.Dictionary:
                foreach (var item in section.GetChildren())
                {
                    CollectValue(item, shape.ElementType!, $"{path}:{item.Key}", errors);
                }

                break;
            case JsonTypeInfoKind.Object:
                Collect(section, type, path, errors);
                break;
            default:
                if (section.GetChildren().Any())
                {
                    errors.Add($"{path} must be a single value, not an object or a list.");
                }

                break;
        }
    }

    private static JsonTypeInfo ShapeOf(Type type) =>
        MeshOptionsShape.Default.GetTypeInfo(type)
        ?? throw new InvalidOperationException($"{type} is not reachable from {nameof(SecureMeshOptions)}.");

    private static Dictionary<string, Type> KnownProperties(JsonTypeInfo shape) =>
        shape.Properties
            .Where(p => p.Set is not null || ShapeOf(p.PropertyType).Kind is not JsonTypeInfoKind.None)
            .ToDictionary(p => p.Name, p => p.PropertyType, StringComparer.OrdinalIgnoreCase);
}
