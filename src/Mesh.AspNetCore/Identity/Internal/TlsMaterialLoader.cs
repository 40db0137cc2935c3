using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Mesh.AspNetCore.Identity.Internal;

/// <summary>
/// Reads and checks the <c>Mesh:Tls</c> files. Every problem is reported with the full key of the file at fault, at
/// startup as a validation error and on rotation as a log entry.
/// </summary>
internal static class TlsMaterialLoader
{
    /// <summary>Reads the three files as they are now.</summary>
    /// <returns>The snapshot, or <see langword="null"/> with <paramref name="errors"/> filled when a file cannot be read.</returns>
    public static TlsFileSnapshot? Read(TlsOptions tls, string root, List<string> errors)
    {
        var certificate = ReadFile(tls.CertificatePath!, $"{root}:CertificatePath", errors);
        var key = ReadFile(tls.KeyPath!, $"{root}:KeyPath", errors);
        var authorities = ReadFile(tls.CaPath!, $"{root}:CaPath", errors);
        return certificate is null || key is null || authorities is null ? null : new TlsFileSnapshot(certificate, key, authorities);
    }

    /// <summary>
    /// Builds the material from a snapshot: a PEM certificate (then any intermediates), the private key that matches it,
    /// at least one CA certificate; the certificate valid at <paramref name="now"/>, issued by a mesh CA, with an identity.
    /// </summary>
    /// <param name="tls">The options, for the paths quoted in messages.</param>
    /// <param name="root">The key of the TLS section, such as <c>Mesh:Tls</c>.</param>
    /// <param name="files">The file contents.</param>
    /// <param name="now">The time at which the certificate must be valid.</param>
    /// <param name="errors">Receives each problem, starting with the key of the file at fault.</param>
    public static TlsMaterial? Load(TlsOptions tls, string root, TlsFileSnapshot files, DateTimeOffset now, List<string> errors)
    {
        var certificateKey = $"{root}:CertificatePath";
        var keyKey = $"{root}:KeyPath";
        var caKey = $"{root}:CaPath";
        var chain = ReadCertificates(files.Certificate, tls.CertificatePath!, certificateKey, errors);
        var authorities = ReadCertificates(files.Authorities, tls.CaPath!, caKey, errors);
        if (chain is null || authorities is null)
        {
            Dispose(chain, authorities);
            return null;
        }

        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPem(Encoding.ASCII.GetString(files.Certificate), Encoding.ASCII.GetString(files.Key));
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            errors.Add(IsKeyOf(chain[0], files.Key)
                ? $"{keyKey} ('{tls.KeyPath}') holds no usable PEM private key for the certificate in {certificateKey}: {ex.Message}"
                : IsReadableKey(files.Key)
                    ? $"{keyKey} ('{tls.KeyPath}') does not match the certificate in {certificateKey} ('{tls.CertificatePath}'): it is the key of another certificate."
                    : $"{keyKey} ('{tls.KeyPath}') holds no readable PEM private key (PKCS#8, RSA or EC, unencrypted): {ex.Message}");
            Dispose(chain, authorities);
            return null;
        }

        if (OperatingSystem.IsWindows())
        {
            // SChannel cannot use the ephemeral key of a PEM-loaded certificate for TLS; a PKCS#12 round trip gives it one.
            using var ephemeral = certificate;
            certificate = X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), password: null);
        }

        var intermediates = new X509Certificate2Collection();
        for (var i = 1; i < chain.Count; i++)
        {
            intermediates.Add(chain[i]);
        }

        chain[0].Dispose();
        var problems = errors.Count;
        CheckValidity(certificate, now, tls, certificateKey, errors);
        var identity = CertificateIdentity.Of(certificate);
        if (identity is null)
        {
            errors.Add($"{certificateKey} ('{tls.CertificatePath}') names no identity: the certificate needs a spiffe:// URI subject alternative name or a subject common name that is a service id (printable ASCII without spaces, at most 256 characters).");
        }

        if (errors.Count == problems && identity is { } proven)
        {
            var material = new TlsMaterial(certificate, intermediates, authorities, proven, files);
            if (material.Verify(certificate, null, usageOid: null, now, out var reason) is null)
            {
                errors.Add($"{certificateKey} ('{tls.CertificatePath}') is not issued by the CA in {caKey} ('{tls.CaPath}'): {reason}");
                material.Dispose();
                return null;
            }

            return material;
        }

        certificate.Dispose();
        Dispose(intermediates, authorities);
        return null;
    }

    private static void CheckValidity(X509Certificate2 certificate, DateTimeOffset now, TlsOptions tls, string key, List<string> errors)
    {
        var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        var notBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero);
        if (now > notAfter)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture,
                $"{key} ('{tls.CertificatePath}') expired on {notAfter:yyyy-MM-dd HH:mm:ss}Z; mint a new certificate."));
        }
        else if (now < notBefore)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture,
                $"{key} ('{tls.CertificatePath}') is not valid before {notBefore:yyyy-MM-dd HH:mm:ss}Z."));
        }
    }

    /// <summary>Whether <paramref name="pem"/> holds the private key of <paramref name="certificate"/>'s public key.</summary>
    private static bool IsKeyOf(X509Certificate2 certificate, byte[] pem)
    {
        using var key = ImportKey(pem);
        return key is not null && key.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(certificate.PublicKey.ExportSubjectPublicKeyInfo());
    }

    private static bool IsReadableKey(byte[] pem)
    {
        using var key = ImportKey(pem);
        return key is not null;
    }

    private static AsymmetricAlgorithm? ImportKey(byte[] pem)
    {
        var text = Encoding.ASCII.GetString(pem);
        foreach (var create in new Func<AsymmetricAlgorithm>[] { RSA.Create, ECDsa.Create, DSA.Create })
        {
            var key = create();
            try
            {
                key.ImportFromPem(text);
                return key;
            }
            catch (Exception ex) when (ex is CryptographicException or ArgumentException)
            {
                key.Dispose();
            }
        }

        return null;
    }

    private static X509Certificate2Collection? ReadCertificates(byte[] pem, string path, string key, List<string> errors)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(Encoding.ASCII.GetString(pem));
        }
        catch (CryptographicException ex)
        {
            errors.Add($"{key} ('{path}') is not a readable PEM certificate file: {ex.Message}");
            return null;
        }

        if (certificates.Count == 0)
        {
            errors.Add($"{key} ('{path}') holds no PEM certificate (no '-----BEGIN CERTIFICATE-----' block).");
            return null;
        }

        return certificates;
    }

    private static byte[]? ReadFile(string path, string key, List<string> errors)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                errors.Add($"{key} ('{path}') does not exist (full path '{info.FullName}').");
                return null;
            }

            if (info.Length > IdentityConstants.MaxPemFileBytes)
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{key} ('{path}') is {info.Length} bytes long; a PEM file of certificates or a key is at most {IdentityConstants.MaxPemFileBytes}."));
                return null;
            }

            return File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            errors.Add($"{key} ('{path}') cannot be read: {ex.Message}");
            return null;
        }
    }

    private static void Dispose(params X509Certificate2Collection?[] collections)
    {
        foreach (var collection in collections)
        {
            if (collection is null)
            {
                continue;
            }

            foreach (var certificate in collection)
            {
                certificate.Dispose();
            }
        }
    }
}
