namespace Mesh.AspNetCore.Identity.Internal;

internal static class IdentityConstants
{
    /// <summary>The authentication scheme and authentication type of a caller identified by its mesh client certificate.</summary>
    public const string AuthenticationScheme = "MeshCertificate";

    /// <summary>Methods of the standard gRPC health service start with this and are open to every caller.</summary>
    public const string HealthServicePrefix = "/grpc.health.v1.Health/";

    /// <summary>How often the certificate, key and CA files are compared with what is in force, besides file change events.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(30);

    /// <summary>How long a burst of file change events is let settle before the files are read.</summary>
    public static readonly TimeSpan ChangeSettleDelay = TimeSpan.FromMilliseconds(200);

    /// <summary>A certificate or key file longer than this is refused rather than read.</summary>
    public const long MaxPemFileBytes = 1024 * 1024;

    public const string SpiffeScheme = "spiffe";

    /// <summary>The claim type of the caller's whole SPIFFE id, when its certificate has one.</summary>
    public const string SpiffeIdClaimType = "urn:mesh:spiffe-id";

    public const string ServerAuthenticationOid = "1.3.6.1.5.5.7.3.1";
    public const string ClientAuthenticationOid = "1.3.6.1.5.5.7.3.2";
    public const string SubjectAlternativeNameOid = "2.5.29.17";
}
