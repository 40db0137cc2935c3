using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Configuration.Internal;

/// <summary>Listens on <c>Mesh:Port</c> for gRPC over HTTP/2 cleartext when it is set.</summary>
internal sealed class ConfigureMeshKestrel(IOptions<SecureMeshOptions> options) : IConfigureOptions<KestrelServerOptions>
{
    public void Configure(KestrelServerOptions kestrel)
    {
        var mesh = options.Value;
        if (mesh.Port is not { } port)
        {
            return;
        }

        static void Http2(ListenOptions listen) => listen.Protocols = HttpProtocols.Http2;

        switch (mesh.ListenAddress)
        {
            case "localhost":
                kestrel.ListenLocalhost(port, Http2);
                break;
            case "*":
                kestrel.ListenAnyIP(port, Http2);
                break;
            default:
                kestrel.Listen(IPAddress.Parse(mesh.ListenAddress), port, Http2);
                break;
        }
    }
}
