using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;

namespace IdentityServer.Users;

/// <summary>
/// A bare mailbox (<c>local@domain</c>), as Keycloak accepts. The framework's <c>[EmailAddress]</c> checks only for one
/// '@', so <c>Name &lt;x@y.com&gt;</c> passed: a second account for a mailbox another account holds, and a display name in
/// the <c>email</c> claim. Letters beyond ASCII stay allowed (RFC 6531 addresses).
/// </summary>
public static partial class EmailAddresses
{
    public static bool IsValid(string address) => address.Length <= 256 && Mailbox().IsMatch(address);

    // Local part: dot-atom characters (no quotes, spaces, brackets, commas), no leading, trailing or double dot.
    // Domain: labels of letters, digits and inner hyphens, separated by single dots.
    [GeneratedRegex("""^(?!.*\.\.)(?!\.)[\p{L}\p{N}!#$%&'*+/=?^_`{|}~.-]{1,64}(?<!\.)@[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?)*\z""")]
    private static partial Regex Mailbox();
}

/// <summary><see cref="EmailAddresses"/> for a form field; an empty value is left to <c>[Required]</c>.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class MailboxAttribute : ValidationAttribute
{
    public override bool IsValid(object? value) => value is not string text || text.Trim().Length == 0 || EmailAddresses.IsValid(text.Trim());
}
