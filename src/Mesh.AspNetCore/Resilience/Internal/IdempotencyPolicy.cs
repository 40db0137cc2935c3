using System.Collections.Concurrent;
using System.Collections.Frozen;

namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>
/// Which methods <c>Mesh:Resilience:Retry:OnlyIdempotent</c> lets retry as usual: those their proto declares idempotent
/// and those <c>Mesh:Resilience:Retry:IdempotentMethods</c> lists (<c>package.Service/Method</c> or
/// <c>package.Service/*</c>). Decided once per method and cached; built again when the configuration reloads.
/// </summary>
internal sealed class IdempotencyPolicy
{
    public const string Wildcard = "*";

    private readonly DeclaredIdempotency _declared;
    private readonly FrozenSet<string> _methods;
    private readonly FrozenSet<string> _services;
    private readonly ConcurrentDictionary<string, bool> _decisions = new(StringComparer.Ordinal);

    public IdempotencyPolicy(DeclaredIdempotency declared, IEnumerable<string>? listed)
    {
        _declared = declared;
        var methods = new HashSet<string>(StringComparer.Ordinal);
        var services = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in listed ?? [])
        {
            if (TryParse(entry, out var service, out var method))
            {
                _ = method == Wildcard ? services.Add(service) : methods.Add("/" + service + "/" + method);
            }
        }

        _methods = methods.ToFrozenSet(StringComparer.Ordinal);
        _services = services.ToFrozenSet(StringComparer.Ordinal);
    }

    /// <summary>Whether the call's method may be retried after its request may have reached a handler.</summary>
    public bool IsIdempotent(MeshCallInfo call) =>
        _decisions.TryGetValue(call.Method, out var idempotent) ? idempotent : Decide(call);

    /// <summary>
    /// Whether <paramref name="entry"/> reads <c>package.Service/Method</c> or <c>package.Service/*</c>: a service name
    /// of dot-separated identifiers, one slash, and a method identifier or <c>*</c>.
    /// </summary>
    public static bool TryParse(string? entry, out string service, out string method)
    {
        service = method = string.Empty;
        var slash = entry?.IndexOf('/', StringComparison.Ordinal) ?? -1;
        if (entry is null || slash <= 0 || slash != entry.LastIndexOf('/'))
        {
            return false;
        }

        var servicePart = entry[..slash];
        var methodPart = entry[(slash + 1)..];
        if (!servicePart.Split('.').All(IsIdentifier) || !(methodPart == Wildcard || IsIdentifier(methodPart)))
        {
            return false;
        }

        service = servicePart;
        method = methodPart;
        return true;
    }

    private bool Decide(MeshCallInfo call)
    {
        var fullMethod = call.Method;
        var slash = fullMethod.LastIndexOf('/');
        var idempotent = _methods.Contains(fullMethod)
            || (slash > 1 && _services.Contains(fullMethod[1..slash]))
            || _declared.IsDeclaredIdempotent(fullMethod, call.Request);
        _decisions.TryAdd(fullMethod, idempotent);
        return idempotent;
    }

    private static bool IsIdentifier(string part) =>
        part.Length > 0 && (char.IsAsciiLetter(part[0]) || part[0] == '_') && part.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');
}
