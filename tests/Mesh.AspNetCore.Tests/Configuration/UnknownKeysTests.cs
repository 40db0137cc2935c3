using System.Reflection;
using Mesh.AspNetCore.Configuration.Internal;
using Microsoft.Extensions.Configuration;

namespace Mesh.AspNetCore.Tests.Configuration;

/// <summary>
/// The unknown-key check reads compile-time metadata instead of reflecting over the options (so it works in native
/// AOT); these tests hold it to what the configuration binder really binds, found here by reflection.
/// </summary>
public sealed class UnknownKeysTests
{
    [Fact]
    public void Collect_EveryBindableOptionsKey_IsKnown()
    {
        var keys = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        AddBindableKeys(typeof(SecureMeshOptions), "Mesh", keys);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(keys).Build();
        var errors = new List<string>();

        UnknownKeys.Collect(configuration.GetSection("Mesh"), typeof(SecureMeshOptions), "Mesh", errors);

        Assert.Contains("Mesh:Resilience:RateLimit:MaxRequests", keys.Keys);
        Assert.Contains("Mesh:Discovery:Services:0:Port", keys.Keys);
        Assert.Empty(errors);
    }

    [Fact]
    public void Collect_ReadOnlyProperty_IsUnknownNamingTheFullKey()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Mesh:Resilience:RateLimit:IsEnabled"] = "true" })
            .Build();
        var errors = new List<string>();

        UnknownKeys.Collect(configuration.GetSection("Mesh"), typeof(SecureMeshOptions), "Mesh", errors);

        var error = Assert.Single(errors);
        Assert.StartsWith("Mesh:Resilience:RateLimit:IsEnabled is not a known setting; Mesh:Resilience:RateLimit accepts ", error, StringComparison.Ordinal);
        Assert.Contains("MaxRequests", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Collect_NamedListItem_IsUnknown()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Mesh:Discovery:Services:first:Id"] = "a" })
            .Build();
        var errors = new List<string>();

        UnknownKeys.Collect(configuration.GetSection("Mesh"), typeof(SecureMeshOptions), "Mesh", errors);

        Assert.Equal("Mesh:Discovery:Services:first is not a known setting; Mesh:Discovery:Services is a list.", Assert.Single(errors));
    }

    /// <summary>Every key the reflection-based binder would fill: settable properties, and objects and lists it fills in place.</summary>
    private static void AddBindableKeys(Type type, string path, Dictionary<string, string?> keys)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var key = $"{path}:{property.Name}";
            var listElement = ListElement(property.PropertyType);
            var dictionaryValue = DictionaryValue(property.PropertyType);
            if (listElement is not null)
            {
                AddValueKeys(listElement, $"{key}:0", keys);
            }
            else if (dictionaryValue is not null)
            {
                AddValueKeys(dictionaryValue, $"{key}:any-name", keys);
            }
            else if (IsObject(property.PropertyType) || property.SetMethod?.IsPublic == true)
            {
                AddValueKeys(property.PropertyType, key, keys);
            }
        }
    }

    private static void AddValueKeys(Type type, string key, Dictionary<string, string?> keys)
    {
        if (IsObject(type))
        {
            AddBindableKeys(type, key, keys);
        }
        else
        {
            keys[key] = "1";
        }
    }

    private static Type? DictionaryValue(Type type) =>
        type.IsInterface && type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IDictionary<,>)
            ? type.GetGenericArguments()[1]
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>))?.GetGenericArguments()[1];

    private static bool IsObject(Type type) => type.IsClass && type != typeof(string);

    private static Type? ListElement(Type type) =>
        type.IsArray ? type.GetElementType()
        : type.IsGenericType && type.GetGenericTypeDefinition() is var definition
            && (definition == typeof(IList<>) || definition == typeof(List<>) || definition == typeof(ICollection<>)
                || definition == typeof(IReadOnlyList<>) || definition == typeof(IEnumerable<>))
            ? type.GetGenericArguments()[0]
            : null;
}
