namespace Mesh.AspNetCore;

/// <summary>
/// Mutual TLS between mesh services, bound from <c>Mesh:Tls</c>. Set all three paths or none.
/// </summary>
/// <remarks>
/// With TLS, the <c>Mesh:Port</c> endpoint serves gRPC over TLS (HTTP/2) and requires a client certificate issued by
/// the CA in <see cref="CaPath"/> (that CA only, not the machine's trust store). Clients registered with
/// <c>AddClient</c> call <c>https://</c>, present <see cref="CertificatePath"/>, and accept only a server certificate
/// from the same CA whose identity is the target service id. A certificate's identity is the last path segment of its
/// first <c>spiffe://</c> URI subject alternative name, else its subject common name. The three files are watched and
/// re-read when they change: new connections use the new files; a bad new file is logged and the last good ones stay.
/// </remarks>
public sealed class TlsOptions
{
    /// <summary>Gets or sets the path of this service's certificate (PEM), optionally followed by its intermediate CA certificates.</summary>
    /// <value>The default value is <see langword="null"/> (no TLS).</value>
    public string? CertificatePath { get; set; }

    /// <summary>Gets or sets the path of the private key of <see cref="CertificatePath"/> (PEM, PKCS#8, PKCS#1 or SEC1, unencrypted).</summary>
    /// <value>The default value is <see langword="null"/> (no TLS).</value>
    public string? KeyPath { get; set; }

    /// <summary>Gets or sets the path of the mesh CA certificate or certificates (PEM): the only roots trusted for mesh peers.</summary>
    /// <value>The default value is <see langword="null"/> (no TLS).</value>
    public string? CaPath { get; set; }

    /// <summary>Gets whether any of the three paths is set; the validator then requires all three.</summary>
    internal bool IsConfigured =>
        !string.IsNullOrEmpty(CertificatePath) || !string.IsNullOrEmpty(KeyPath) || !string.IsNullOrEmpty(CaPath);
}
