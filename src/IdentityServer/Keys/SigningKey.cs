namespace IdentityServer.Keys;

/// <summary>An RSA key the server signs or encrypts tokens with, shared by every instance through the database.</summary>
public sealed class SigningKey
{
    public required string Id { get; set; }

    /// <summary><c>sig</c> or <c>enc</c>, as in a JWK's <c>use</c>.</summary>
    public required string Use { get; set; }

    public required string Algorithm { get; set; }

    /// <summary>PKCS#8 DER, base64.</summary>
    public required string PrivateKey { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>The key is published but signs nothing before this instant.</summary>
    public DateTimeOffset ActivatesAt { get; set; }

    /// <summary>The key stops signing at this instant but stays published until <see cref="RetiresAt"/>.</summary>
    public DateTimeOffset ExpiresAt { get; set; }

    public DateTimeOffset RetiresAt { get; set; }
}
