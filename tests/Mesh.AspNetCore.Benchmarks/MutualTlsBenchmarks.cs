using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BenchmarkDotNet.Attributes;
using Mesh.AspNetCore.Benchmarks.Infrastructure;
using Mesh.AspNetCore.Benchmarks.Protos;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Benchmarks;

/// <summary>
/// A unary call from a mesh client to a mesh service on its <c>Mesh:Port</c>, on an established connection: cleartext
/// HTTP/2 (baseline) against mutual TLS (<c>Mesh:Tls</c>, ECDSA P-256 certificates from one CA). The handshake is paid
/// once, in the setup; what is left is the cost of encrypting and decrypting each call's frames.
/// </summary>
[MemoryDiagnoser]
public class MutualTlsBenchmarks
{
    private readonly PingRequest _request = new() { Text = "ping" };
    private string _directory = null!;
    private WebApplication _cleartextServer = null!;
    private WebApplication _tlsServer = null!;
    private MeshClientHost _cleartextClient = null!;
    private MeshClientHost _tlsClient = null!;
    private Bench.BenchClient _cleartext = null!;
    private Bench.BenchClient _tls = null!;

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "mesh-bench-tls-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        var (ca, caKey) = CreateAuthority();
        var caPath = Write("mesh-ca.crt", ca.ExportCertificatePem());
        var serverTls = Issue(ca, caKey, MeshConfiguration.BenchServiceId, caPath);
        var clientTls = Issue(ca, caKey, "bench-client", caPath);

        var cleartextPort = FreePort();
        _cleartextServer = StartServer(cleartextPort, tls: null);
        var tlsPort = FreePort();
        _tlsServer = StartServer(tlsPort, serverTls);

        _cleartextClient = MeshClientHost.Start(ClientConfiguration(cleartextPort, tls: null));
        _tlsClient = MeshClientHost.Start(ClientConfiguration(tlsPort, clientTls));
        _cleartext = _cleartextClient.Client.Client;
        _tls = _tlsClient.Client.Client;
        _cleartext.Ping(_request);
        _tls.Ping(_request);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _cleartextClient.Dispose();
        _tlsClient.Dispose();
        _cleartextServer.StopAsync().GetAwaiter().GetResult();
        _tlsServer.StopAsync().GetAwaiter().GetResult();
        _cleartextServer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _tlsServer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Baseline = true, Description = "Mesh client to Mesh:Port, HTTP/2 cleartext")]
    public async Task<PingReply> Cleartext() => await _cleartext.PingAsync(_request);

    [Benchmark(Description = "Mesh client to Mesh:Port, mutual TLS (Mesh:Tls)")]
    public async Task<PingReply> MutualTls() => await _tls.PingAsync(_request);

    private static WebApplication StartServer(int port, Dictionary<string, string?>? tls)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.Logging.ClearProviders();
        builder.Configuration.Sources.Clear();
        var configuration = new Dictionary<string, string?>
        {
            ["Mesh:ServiceId"] = MeshConfiguration.BenchServiceId,
            ["Mesh:Port"] = port.ToString(CultureInfo.InvariantCulture),
            ["Mesh:ListenAddress"] = "127.0.0.1",
        };
        foreach (var (key, value) in tls ?? [])
        {
            configuration[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(configuration);
        builder.Services.AddGrpc();
        builder.Services.AddSecureMesh();
        var app = builder.Build();
        app.MapGrpcService<BenchService>();
        app.StartAsync().GetAwaiter().GetResult();
        return app;
    }

    private static Dictionary<string, string?> ClientConfiguration(int port, Dictionary<string, string?>? tls)
    {
        var configuration = MeshConfiguration.Client(new Uri($"http://127.0.0.1:{port}"));
        foreach (var (key, value) in tls ?? [])
        {
            configuration[key] = value;
        }

        return configuration;
    }

    private static (X509Certificate2 Certificate, ECDsa Key) CreateAuthority()
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=bench-mesh-ca", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        return (request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30)), key);
    }

    private Dictionary<string, string?> Issue(X509Certificate2 ca, ECDsa caKey, string serviceId, string caPath)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={serviceId}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddUri(new Uri($"spiffe://bench.test/sa/{serviceId}"));
        request.CertificateExtensions.Add(names.Build());
        using var issued = request.Create(ca.SubjectName, X509SignatureGenerator.CreateForECDsa(caKey),
            DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(7), [0x2A, .. RandomNumberGenerator.GetBytes(8)]);
        return new Dictionary<string, string?>
        {
            ["Mesh:Tls:CertificatePath"] = Write(serviceId + ".crt", issued.ExportCertificatePem()),
            ["Mesh:Tls:KeyPath"] = Write(serviceId + ".key", key.ExportPkcs8PrivateKeyPem()),
            ["Mesh:Tls:CaPath"] = caPath,
        };
    }

    private string Write(string name, string pem)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, pem);
        return path;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
