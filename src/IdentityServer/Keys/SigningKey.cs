namespace IdentityServer.Keys;

/// <summary>
/// A key the server signs or encrypts tokens with, shared by every instance through the database: RSA for the tokens
/// others validate, a 256-bit secret for the tokens only this server reads.
/// </summary>
public sealed class SigningKey
{
    public required string Id { get; set; }

    /// <summary>One of <see cref="KeyUses"/>: <c>sig</c> and <c>enc</c> as in a JWK's <c>use</c>, <c>hmac</c>, <c>aeskw</c>.</summary>
    public required string Use { get; set; }

    public required string Algorithm { get; set; }

    /// <summary>RSA keys: PKCS#8 DER, base64. Symmetric keys: the 32 raw bytes, base64.</summary>
    public required string PrivateKey { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>The key is published but signs nothing before this instant.</summary>
    public DateTimeOffset ActivatesAt { get; set; }

    /// <summary>The key stops signing at this instant but stays published until <see cref="RetiresAt"/>.</summary>
    public DateTimeOffset ExpiresAt { get; set; }

    public DateTimeOffset RetiresAt { get; set; }
}
