namespace Mesh.AspNetCore.Identity.Internal;

/// <summary>Decides whether <c>Mesh:Authorization</c> lets an identity call a method.</summary>
internal static class MethodRules
{
    /// <summary>
    /// Whether <paramref name="identity"/> may call <paramref name="path"/> (a gRPC path, <c>/package.Service/Method</c>):
    /// the rule for the exact method, else the rule for its service (<c>package.Service/*</c>), else
    /// <see cref="CallerAuthorizationOptions.AllowedCallers"/>, where an empty list allows every caller.
    /// A caller without an identity is allowed only where every caller is.
    /// </summary>
    public static bool IsAllowed(CallerAuthorizationOptions authorization, string path, string? identity)
    {
        var callers = authorization.AllowedCallers;
        if (authorization.Methods.Count > 0 && path.Length > 1)
        {
            var method = path.AsSpan(1);
            var slash = method.IndexOf('/');
            MethodAuthorizationRule? serviceRule = null;
            foreach (var rule in authorization.Methods)
            {
                var pattern = rule.Method.AsSpan();
                if (pattern.SequenceEqual(method))
                {
                    return Contains(rule.AllowedCallers, identity);
                }

                if (slash > 0 && pattern.EndsWith("/*") && pattern[..^2].SequenceEqual(method[..slash]))
                {
                    serviceRule = rule;
                }
            }

            if (serviceRule is not null)
            {
                return Contains(serviceRule.AllowedCallers, identity);
            }
        }

        return callers.Count == 0 || Contains(callers, identity);
    }

    /// <summary>Whether <paramref name="method"/> is <c>package.Service/Method</c> or <c>package.Service/*</c>.</summary>
    public static bool IsMethodPattern(string? method)
    {
        if (string.IsNullOrEmpty(method))
        {
            return false;
        }

        var slash = method.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 && slash < method.Length - 1 && method.IndexOf('/', slash + 1) < 0
            && !method.Any(static c => c is <= ' ' or >= (char)0x7F)
            && (method[(slash + 1)..] == "*" || !method.Contains('*', StringComparison.Ordinal));
    }

    private static bool Contains(IList<string> callers, string? identity)
    {
        if (identity is null)
        {
            return false;
        }

        foreach (var caller in callers)
        {
            if (string.Equals(caller, identity, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
