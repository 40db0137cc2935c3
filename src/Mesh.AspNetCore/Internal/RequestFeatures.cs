using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http.Features;

namespace Mesh.AspNetCore.Internal;

/// <summary>
/// Feature look-ups on the per-request path. <see cref="IFeatureCollection.Get{TFeature}"/> is a generic virtual method:
/// each call goes through the runtime's generic virtual dispatch helper, which a server's profile shows on every
/// request. The collection's indexer is an ordinary interface call and finds the same feature.
/// </summary>
internal static class RequestFeatures
{
    /// <summary>The feature of type <typeparamref name="TFeature"/>, or <see langword="null"/> when the request has none.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TFeature? Get<TFeature>(IFeatureCollection features)
        where TFeature : class =>
        features[typeof(TFeature)] as TFeature;
}
