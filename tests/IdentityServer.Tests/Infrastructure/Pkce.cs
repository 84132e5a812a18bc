using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.Tokens;

namespace IdentityServer.Tests.Infrastructure;

public sealed record Pkce(string Verifier, string Challenge)
{
    public static Pkce Create() => For(Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32)));

    /// <summary>The S256 pair of a verifier of the caller's choosing, well-formed or not.</summary>
    public static Pkce For(string verifier) =>
        new(verifier, Base64UrlEncoder.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(verifier))));
}
