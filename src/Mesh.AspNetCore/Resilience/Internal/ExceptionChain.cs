namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>Searches a failed attempt's exception and its inner exceptions, to a bounded depth.</summary>
internal static class ExceptionChain
{
    /// <summary>How deep the chain of inner exceptions is searched.</summary>
    private const int MaxDepth = 8;

    /// <summary>The first exception of type <typeparamref name="T"/> in <paramref name="exception"/>'s chain, if any.</summary>
    public static T? Find<T>(Exception? exception)
        where T : Exception
    {
        for (var depth = 0; exception is not null && depth < MaxDepth; depth++, exception = exception.InnerException)
        {
            if (exception is T found)
            {
                return found;
            }
        }

        return null;
    }
}
