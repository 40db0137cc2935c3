using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace Mesh.AspNetCore.Identity.Internal;

/// <summary>
/// Puts <see cref="CallerAuthorizationMiddleware"/> first in the application's pipeline, before anything the
/// application adds and before the mesh's rate limit, so nothing needs adding to <c>Program.cs</c>.
/// </summary>
internal sealed class CallerIdentityStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.UseMiddleware<CallerAuthorizationMiddleware>();
        next(app);
    };
}
