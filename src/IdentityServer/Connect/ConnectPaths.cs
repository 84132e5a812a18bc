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
}
