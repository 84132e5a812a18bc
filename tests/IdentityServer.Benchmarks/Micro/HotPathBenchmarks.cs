using System.Security.Claims;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using IdentityServer.Admin;
using IdentityServer.Connect;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace IdentityServer.Benchmarks.Micro;

/// <summary>
/// The pieces that bound the token endpoint's CPU cost, one call each:
/// <c>dotnet run -c Release --project tests/IdentityServer.Benchmarks -- micro --filter *</c>.
/// </summary>
[MemoryDiagnoser]
public class TokenSigningBenchmarks
{
    private readonly JsonWebTokenHandler handler = new() { SetDefaultTimesOnTokenCreation = false };
    private SigningCredentials credentials = null!;
    private string token = "";
    private TokenValidationParameters validation = null!;

    [GlobalSetup]
    public void SetUp()
    {
        // The server's key type: RSA 2048 (Keys:RsaKeySize), RS256.
        var key = new RsaSecurityKey(RSA.Create(2048)) { KeyId = "bench" };
        credentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256);
        token = CreateAccessToken();
        validation = new TokenValidationParameters
        {
            IssuerSigningKey = key, ValidIssuer = "http://127.0.0.1", ValidAudience = "bench-api", ValidateLifetime = false,
        };
    }

    /// <summary>An RFC 9068 access token like the server's: header typ at+jwt, the contract claims, RS256.</summary>
    [Benchmark]
    public string CreateAccessToken()
    {
        var now = DateTime.UtcNow;
        return handler.CreateToken(new SecurityTokenDescriptor
        {
            TokenType = "at+jwt",
            Issuer = "http://127.0.0.1",
            Audience = "bench-api",
            IssuedAt = now,
            NotBefore = now,
            Expires = now.AddMinutes(5),
            Subject = new ClaimsIdentity([new Claim("sub", "bench-cc"), new Claim("client_id", "bench-cc"), new Claim("scope", "bench.api"),
                new Claim("jti", Guid.NewGuid().ToString())]),
            SigningCredentials = credentials,
        });
    }

    [Benchmark]
    public async Task<bool> ValidateAccessToken() => (await handler.ValidateTokenAsync(token, validation)).IsValid;
}

/// <summary>
/// Protecting a refresh token (signed, then encrypted as a JWE) and opening it again: with RSA keys (RS256 inside,
/// RSA-OAEP outside, as before) and with the symmetric keys the server now uses for tokens only it reads (HS256
/// inside, A256KW outside). A refresh does one open and one protect.
/// </summary>
[MemoryDiagnoser]
public class RefreshTokenProtectionBenchmarks
{
    private readonly JsonWebTokenHandler handler = new() { SetDefaultTimesOnTokenCreation = false };
    private (SigningCredentials Signing, EncryptingCredentials Encrypting, TokenValidationParameters Validation) rsa;
    private (SigningCredentials Signing, EncryptingCredentials Encrypting, TokenValidationParameters Validation) symmetric;
    private string rsaToken = "";
    private string symmetricToken = "";

    [GlobalSetup]
    public void SetUp()
    {
        var rsaSigning = new RsaSecurityKey(RSA.Create(2048)) { KeyId = "sig" };
        var rsaEncrypting = new RsaSecurityKey(RSA.Create(2048)) { KeyId = "enc" };
        rsa = (new SigningCredentials(rsaSigning, SecurityAlgorithms.RsaSha256),
            new EncryptingCredentials(rsaEncrypting, SecurityAlgorithms.RsaOAEP, SecurityAlgorithms.Aes256CbcHmacSha512),
            Validation(rsaSigning, rsaEncrypting));

        var hmac = new SymmetricSecurityKey(RandomNumberGenerator.GetBytes(32)) { KeyId = "hmac" };
        var aes = new SymmetricSecurityKey(RandomNumberGenerator.GetBytes(32)) { KeyId = "aeskw" };
        symmetric = (new SigningCredentials(hmac, SecurityAlgorithms.HmacSha256),
            new EncryptingCredentials(aes, SecurityAlgorithms.Aes256KW, SecurityAlgorithms.Aes256CbcHmacSha512),
            Validation(hmac, aes));

        rsaToken = Protect(rsa.Signing, rsa.Encrypting);
        symmetricToken = Protect(symmetric.Signing, symmetric.Encrypting);
    }

    [Benchmark(Baseline = true)]
    public string ProtectWithRsa() => Protect(rsa.Signing, rsa.Encrypting);

    [Benchmark]
    public string ProtectWithSymmetricKeys() => Protect(symmetric.Signing, symmetric.Encrypting);

    [Benchmark]
    public async Task<bool> OpenWithRsa() => (await handler.ValidateTokenAsync(rsaToken, rsa.Validation)).IsValid;

    [Benchmark]
    public async Task<bool> OpenWithSymmetricKeys() => (await handler.ValidateTokenAsync(symmetricToken, symmetric.Validation)).IsValid;

    private string Protect(SigningCredentials signing, EncryptingCredentials encrypting)
    {
        var now = DateTime.UtcNow;
        return handler.CreateToken(new SecurityTokenDescriptor
        {
            TokenType = "oi_reft+jwt",
            Issuer = "http://127.0.0.1",
            IssuedAt = now,
            Expires = now.AddDays(14),
            Subject = new ClaimsIdentity([new Claim("sub", "bench-user"), new Claim("oi_au_id", Guid.NewGuid().ToString()),
                new Claim("oi_tkn_id", Guid.NewGuid().ToString()), new Claim("oi_scp", "openid"), new Claim("oi_scp", "offline_access")]),
            SigningCredentials = signing,
            EncryptingCredentials = encrypting,
        });
    }

    private static TokenValidationParameters Validation(SecurityKey signing, SecurityKey encrypting) => new()
    {
        IssuerSigningKey = signing, TokenDecryptionKey = encrypting, ValidIssuer = "http://127.0.0.1",
        ValidateAudience = false, ValidateLifetime = false, ValidTypes = ["oi_reft+jwt"],
    };
}

/// <summary>Client authentication: verifying a presented client secret against each stored format.</summary>
[MemoryDiagnoser]
public class ClientSecretBenchmarks
{
    private readonly string secret = ClientsEndpoints.NewSecret();
    private string sha256 = "";
    private byte[] salt = [];
    private byte[] pbkdf2 = [];

    [GlobalSetup]
    public void SetUp()
    {
        sha256 = ClientSecretHashing.HashSha256(secret);
        salt = RandomNumberGenerator.GetBytes(16);
        pbkdf2 = Rfc2898DeriveBytes.Pbkdf2(secret, salt, 10_000, HashAlgorithmName.SHA256, 32);
    }

    /// <summary>What this server now does for generated secrets.</summary>
    [Benchmark(Baseline = true)]
    public bool VerifySha256() => ClientSecretHashing.VerifySha256(secret, sha256);

    /// <summary>OpenIddict's default, kept for human-chosen secrets: PBKDF2-SHA256, 10,000 iterations, 256-bit key.</summary>
    [Benchmark]
    public bool VerifyPbkdf2() =>
        CryptographicOperations.FixedTimeEquals(Rfc2898DeriveBytes.Pbkdf2(secret, salt, 10_000, HashAlgorithmName.SHA256, 32), pbkdf2);

    [Benchmark]
    public bool ClassifySecret() => ClientSecretHashing.IsHighEntropy(secret);
}

/// <summary>A password check at login: one BCrypt verify at the work factor.</summary>
public class BcryptBenchmarks
{
    private string hash = "";

    [Params(10, 12)]
    public int Cost { get; set; }

    [GlobalSetup]
    public void SetUp() => hash = BCrypt.Net.BCrypt.HashPassword("bench-password-0", Cost);

    [Benchmark]
    public bool Verify() => BCrypt.Net.BCrypt.Verify("bench-password-0", hash);
}
