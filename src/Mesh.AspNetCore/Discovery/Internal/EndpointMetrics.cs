using System.Diagnostics;
using System.Diagnostics.Metrics;
using Mesh.AspNetCore.Telemetry.Internal;

namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>The <c>mesh.endpoint.*</c> instruments of the <c>Mesh.AspNetCore</c> meter. Registered as a DI singleton.</summary>
internal sealed class EndpointMetrics
{
    public const string TransitionsName = "mesh.endpoint.transitions";
    public const string EjectedName = "mesh.endpoint.ejected";
    public const string EndpointTag = "mesh.endpoint";
    public const string ToStateTag = "mesh.endpoint.to";
    public const string Ejected = "ejected";
    public const string Returned = "returned";

    private readonly Counter<long> _transitions;
    private EndpointRegistry? _registry;

    public EndpointMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(new MeterOptions(MeshMetrics.MeterName));
        _transitions = meter.CreateCounter<long>(
            TransitionsName,
            unit: "{transition}",
            description: "Outlier ejections of single endpoints and their returns, by target service, endpoint (host:port) and new state (ejected or returned).");
        meter.CreateObservableGauge(
            EjectedName,
            Observe,
            unit: "{endpoint}",
            description: "Endpoints of each target service that are ejected now.");
    }

    internal void Observe(EndpointRegistry registry) => _registry = registry;

    public void Transition(string serviceId, string address, string to)
    {
        if (_transitions.Enabled)
        {
            var tags = default(TagList);
            tags.Add(MeshMetrics.ServiceTag, serviceId);
            tags.Add(EndpointTag, address);
            tags.Add(ToStateTag, to);
            _transitions.Add(1, in tags);
        }
    }

    private IEnumerable<Measurement<int>> Observe()
    {
        if (_registry is not { } registry)
        {
            return [];
        }

        var measurements = new List<Measurement<int>>();
        foreach (var service in registry.Services)
        {
            measurements.Add(new Measurement<int>(service.EjectedCount(), new KeyValuePair<string, object?>(MeshMetrics.ServiceTag, service.ServiceId)));
        }

        return measurements;
    }
}
