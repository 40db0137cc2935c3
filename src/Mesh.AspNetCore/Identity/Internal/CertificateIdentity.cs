using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Mesh.AspNetCore.RateLimiting.Internal;

namespace Mesh.AspNetCore.Identity.Internal;

/// <summary>
/// The identity a mesh certificate proves: the last path segment of its first <c>spiffe://</c> URI subject alternative
/// name, else its subject common name. An identity must follow the rule for <c>Mesh:ServiceId</c> (printable ASCII
/// without spaces, at most 256 characters); a certificate whose name does not is treated as having no identity.
/// </summary>
internal readonly record struct CertificateIdentity(string Name, string? SpiffeId)
{
    public static CertificateIdentity? Of(X509Certificate2 certificate)
    {
        var spiffeId = FirstSpiffeId(certificate);
        if (spiffeId is not null)
        {
            var path = spiffeId.AbsolutePath.TrimEnd('/');
            var name = Uri.UnescapeDataString(path[(path.LastIndexOf('/') + 1)..]);
            return IsServiceId(name) ? new CertificateIdentity(name, spiffeId.OriginalString) : null;
        }

        var commonName = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        return IsServiceId(commonName) ? new CertificateIdentity(commonName, null) : null;
    }

    /// <summary>
    /// Reads the URI entries of the subject alternative name extension with <see cref="AsnReader"/>: .NET offers
    /// DNS names and IP addresses of that extension but no URIs.
    /// </summary>
    private static Uri? FirstSpiffeId(X509Certificate2 certificate)
    {
        if (certificate.Extensions[IdentityConstants.SubjectAlternativeNameOid] is not { } extension)
        {
            return null;
        }

        try
        {
            var reader = new AsnReader(extension.RawData, AsnEncodingRules.DER);
            var names = reader.ReadSequence();
            var uriTag = new Asn1Tag(TagClass.ContextSpecific, 6);
            while (names.HasData)
            {
                var tag = names.PeekTag();
                if (!tag.HasSameClassAndValue(uriTag))
                {
                    names.ReadEncodedValue();
                    continue;
                }

                var text = names.ReadCharacterString(UniversalTagNumber.IA5String, tag);
                if (Uri.TryCreate(text, UriKind.Absolute, out var uri)
                    && string.Equals(uri.Scheme, IdentityConstants.SpiffeScheme, StringComparison.OrdinalIgnoreCase))
                {
                    return uri;
                }
            }
        }
        catch (AsnContentException)
        {
            // A malformed extension proves nothing; the subject name is then the only candidate.
        }
        catch (CryptographicException)
        {
        }

        return null;
    }

    private static bool IsServiceId(string? name) =>
        !string.IsNullOrEmpty(name)
        && name.Length <= RateLimitConstants.MaxServiceIdLength
        && name.All(static c => c is > ' ' and < (char)0x7F);
}
