using System.Security.Claims;
using IdentityServer.Tests.Infrastructure;
using IdentityServer.Users;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace IdentityServer.Tests.Users;

/// <summary>What the sign-in cookie keeps when Identity re-issues it (every minute, at the security stamp check).</summary>
public sealed class SessionCookieTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    [Fact]
    public async Task A_reissued_cookie_keeps_its_sign_in_time_and_session_id()
    {
        var reissued = await ReissueAsync(new Claim("auth_time", "1700000000"), new Claim(BrowserSessions.SessionIdClaim, "abc123"));

        Assert.Equal("1700000000", reissued.FindFirst("auth_time")?.Value);
        Assert.Equal("abc123", reissued.FindFirst(BrowserSessions.SessionIdClaim)?.Value);
    }

    [Fact]
    public async Task A_cookie_from_before_session_ids_gets_one_when_reissued_so_that_signing_out_can_end_it()
    {
        var reissued = await ReissueAsync(new Claim("auth_time", "1700000000"));

        Assert.False(string.IsNullOrEmpty(reissued.FindFirst(BrowserSessions.SessionIdClaim)?.Value));
    }

    private async Task<ClaimsPrincipal> ReissueAsync(params Claim[] currentClaims)
    {
        var options = factory.Services.GetRequiredService<IOptions<SecurityStampValidatorOptions>>().Value;
        var current = new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", "user-1"), .. currentClaims], IdentityConstants.ApplicationScheme));
        var reissued = new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", "user-1")], IdentityConstants.ApplicationScheme));
        await options.OnRefreshingPrincipal!(new SecurityStampRefreshingPrincipalContext
        {
            CurrentPrincipal = current,
            NewPrincipal = reissued,
        });
        return reissued;
    }
}
