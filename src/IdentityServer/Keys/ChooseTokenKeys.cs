using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Keys;

/// <summary>
/// Picks the keys for each new token by who reads it. Access and ID tokens are validated by others from the JWKS:
/// RSA-signed, never encrypted. Every other token (authorization codes, refresh tokens, and any other internal type)
/// comes back only to this server, so it is signed with HMAC and encrypted with AES key wrap: RSA private-key
/// operations were over a quarter of the CPU of a refresh.
/// </summary>
/// <remarks>
/// Runs right after OpenIddict's <see cref="OpenIddictServerHandlers.Protection.AttachSecurityCredentials"/>, which
/// takes the first credentials of its sorted lists; its sort puts symmetric keys first, so it would sign access tokens
/// with HS256. Validation needs nothing here: OpenIddict validates with every signing and encryption key in the ring.
/// </remarks>
internal sealed class ChooseTokenKeys(KeyRing ring, TimeProvider time) : IOpenIddictServerHandler<GenerateTokenContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<GenerateTokenContext>()
            .UseSingletonHandler<ChooseTokenKeys>()
            // Before CreateTokenEntry (+1,000) and GenerateIdentityModelToken, which use what is chosen here.
            .SetOrder(OpenIddictServerHandlers.Protection.AttachSecurityCredentials.Descriptor.Order + 1)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(GenerateTokenContext context)
    {
        var keys = ring.ActiveAt(time.GetUtcNow());
        if (context.TokenType is TokenTypeIdentifiers.AccessToken or TokenTypeIdentifiers.IdentityToken)
        {
            context.SigningCredentials = keys.PublicSigning;
            context.EncryptionCredentials = null;
        }
        else
        {
            context.SigningCredentials = keys.InternalSigning;
            context.EncryptionCredentials = keys.InternalEncryption;
        }

        return ValueTask.CompletedTask;
    }
}
