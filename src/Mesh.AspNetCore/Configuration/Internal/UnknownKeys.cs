using System.Collections.Concurrent;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace Mesh.AspNetCore.Configuration.Internal;

/// <summary>
/// Finds configuration keys that bind to nothing, so that a misspelt key fails at startup instead of being ignored.
/// </summary>
internal static class UnknownKeys
{
    private static readonly ConcurrentDictionary<Type, Dictionary<string, PropertyInfo>> Properties = new();

    public static void Collect(IConfiguration configuration, Type type, string path, List<string> errors)
    {
        var properties = Properties.GetOrAdd(type, static t => t
            .GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite || IsList(p.PropertyType, out _))
            .ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase));

        foreach (var child in configuration.GetChildren())
        {
            var childPath = $"{path}:{child.Key}";
            if (!properties.TryGetValue(child.Key, out var property))
            {
                var known = string.Join(", ", properties.Keys.Order(StringComparer.Ordinal));
                errors.Add($"{childPath} is not a known setting; {path} accepts {known}.");
                continue;
            }

            CollectValue(child, property.PropertyType, childPath, errors);
        }
    }

    private static void CollectValue(IConfigurationSection section, Type type, string path, List<string> errors)
    {
        if (IsList(type, out var elementType))
        {
            foreach (var item in section.GetChildren())
            {
                var itemPath = $"{path}:{item.Key}";
                if (!int.TryParse(item.Key, out _))
                {
                    errors.Add($"{itemPath} is not a known setting; {path} is a list.");
                }
                else
                {
                    CollectValue(item, elementType, itemPath, errors);
                }
            }
        }
        else if (IsObject(type))
        {
            Collect(section, type, path, errors);
        }
        else if (section.GetChildren().Any())
        {
            errors.Add($"{path} must be a single value, not an object or a list.");
        }
    }

    private static bool IsObject(Type type) =>
        type.IsClass && type != typeof(string);

    private static bool IsList(Type type, out Type elementType)
    {
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IList<>))
        {
            elementType = type.GetGenericArguments()[0];
            return true;
        }

        elementType = typeof(object);
        return false;
    }
}
