using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Matching;

namespace Mesh.AspNetCore.RateLimiting.Internal;

/// <summary>
/// Puts the inbound rate-limit decision in front of every limited endpoint (<see cref="RateLimitedEndpoint.IsLimited"/>)
/// when routing builds its matcher, in every routing pipeline of the application (<c>WebApplication</c>, a
/// <c>Startup</c> class's <c>UseEndpoints</c>, a branch with routing of its own): where routing would select a limited
/// endpoint, it selects a <see cref="RateLimitedEndpoint"/> of the same route, order, metadata and name instead. The
/// decision then runs when the endpoint runs, after the whole middleware pipeline, unless
/// <see cref="RateLimitMiddleware"/> took it earlier. Routing itself does no work per request for it (its one branch is
/// taken without looking at the request).
/// </summary>
/// <remarks>
/// Routing's own policies build endpoints of their own the same way (the <c>405</c> endpoint of an HTTP method
/// mismatch). The endpoint routing selects is therefore not the one it matched, but carries the same metadata
/// (<see cref="RateLimitMiddleware"/> puts the matched one back on a request it admits); each matched endpoint has one
/// stand-in for as long as it lives, through rebuilds of the matcher.
/// </remarks>
internal sealed class RateLimitMatcherPolicy(InboundRateLimitGate gate, RateLimitRejectionWriter rejections) : MatcherPolicy, INodeBuilderPolicy
{
    private static readonly object Limited = new();

    private readonly ConditionalWeakTable<RouteEndpoint, RouteEndpoint> _standIns = [];

    // After routing's own policies (HTTP method, host, content type): each node it sees holds the endpoints of one branch.
    public override int Order => int.MaxValue;

    public bool AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints)
    {
        foreach (var endpoint in endpoints)
        {
            if (endpoint is RouteEndpoint && RateLimitedEndpoint.IsLimited(endpoint))
            {
                return true;
            }
        }

        return false;
    }

    public IReadOnlyList<PolicyNodeEdge> GetEdges(IReadOnlyList<Endpoint> endpoints)
    {
        var standIns = new Endpoint[endpoints.Count];
        for (var i = 0; i < endpoints.Count; i++)
        {
            standIns[i] = endpoints[i] is RouteEndpoint route && RateLimitedEndpoint.IsLimited(route)
                ? _standIns.GetValue(route, original => RateLimitedEndpoint.Wrap(original, gate, rejections))
                : endpoints[i];
        }

        return [new PolicyNodeEdge(Limited, standIns)];
    }

    public PolicyJumpTable BuildJumpTable(int exitDestination, IReadOnlyList<PolicyJumpTableEdge> edges) =>
        new OneBranch(edges.Count == 1 ? edges[0].Destination : exitDestination);

    private sealed class OneBranch(int destination) : PolicyJumpTable
    {
        public override int GetDestination(HttpContext httpContext) => destination;
    }
}
