using System.Net;

namespace IdentityServer.Hosting;

public static class Loopback
{
    /// <summary>localhost, or a loopback IP literal (127.0.0.0/8, [::1]) in a URI's host.</summary>
    public static bool IsLoopback(Uri uri) =>
        uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));
}
