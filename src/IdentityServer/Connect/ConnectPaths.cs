namespace IdentityServer.Connect;

/// <summary>
/// Where the protocol endpoints live (discovery advertises them): one list for OpenIddict, the endpoints mapped here,
/// and the middleware that treats some of them apart (rate limits, CORS, caching).
/// </summary>
public static class ConnectPaths
{
    public const string Authorize = "/connect/authorize";
    public const string Token = "/connect/token";
    public const string UserInfo = "/connect/userinfo";
    public const string Introspect = "/connect/introspect";
    public const string Revoke = "/connect/revoke";
    public const string EndSession = "/connect/endsession";

    /// <summary>RFC 8628: where a device without a browser (a TV, a command-line tool) asks for a user code.</summary>
    public const string DeviceAuthorization = "/connect/device";

    /// <summary>RFC 8628: where the user, on another device's browser, enters that code and approves the device.</summary>
    public const string Verify = "/connect/verify";

    public const string OpenIdConfiguration = "/.well-known/openid-configuration";

    /// <summary>
    /// RFC 8414's name for the same document, which OAuth-only clients (MCP clients among them) look for first. For an
    /// issuer with a path it is also found where RFC 8414 puts it, between the host and the path (Hosting/IssuerPath).
    /// </summary>
    public const string AuthorizationServerMetadata = "/.well-known/oauth-authorization-server";

    public const string Jwks = "/.well-known/jwks";
}
