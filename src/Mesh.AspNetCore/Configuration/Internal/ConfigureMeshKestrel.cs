using System.Net;
using Mesh.AspNetCore.Identity.Internal;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Configuration.Internal;

/// <summary>Listens on <c>Mesh:Port</c> for gRPC over HTTP/2 when it is set: cleartext, or mutual TLS with <c>Mesh:Tls</c>.</summary>
internal sealed class ConfigureMeshKestrel(IOptions<SecureMeshOptions> options, MeshServerTls tls) : IConfigureOptions<KestrelServerOptions>
{
    public void Configure(KestrelServerOptions kestrel)
    {
        var mesh = options.Value;
        if (mesh.Port is not { } port)
        {
            return;
        }

        var secure = mesh.Tls.IsConfigured;
        void Http2(ListenOptions listen)
        {
            listen.Protocols = HttpProtocols.Http2;
            if (secure)
            {
                tls.Apply(listen);
            }
        }

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
