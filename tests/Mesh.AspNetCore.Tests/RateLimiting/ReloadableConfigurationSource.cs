using Microsoft.Extensions.Configuration;

namespace Mesh.AspNetCore.Tests.RateLimiting;

/// <summary>An in-memory configuration whose whole content can be replaced at run time, raising a reload like an edited appsettings.json.</summary>
public sealed class ReloadableConfigurationSource(IDictionary<string, string?> initial) : IConfigurationSource
{
    private readonly Provider _provider = new(initial);

    public IConfigurationProvider Build(IConfigurationBuilder builder) => _provider;

    public void Replace(IDictionary<string, string?> data) => _provider.Replace(data);

    private sealed class Provider : ConfigurationProvider
    {
        public Provider(IDictionary<string, string?> data) => Data = new Dictionary<string, string?>(data, StringComparer.OrdinalIgnoreCase);

        public void Replace(IDictionary<string, string?> data)
        {
            Data = new Dictionary<string, string?>(data, StringComparer.OrdinalIgnoreCase);
            OnReload();
        }
    }
}
