using System.Globalization;

namespace IdentityServer.Admin;

/// <summary>The <c>page</c> and <c>pageSize</c> query parameters of admin list endpoints.</summary>
internal static class Paging
{
    public const int DefaultPageSize = 20;
    public const int MaxPageSize = 100;

    // Any higher and the offset (page - 1) * pageSize would overflow an int.
    private const int MaxPage = int.MaxValue / MaxPageSize;

    /// <summary>Read as text so that empty values mean the defaults and bad values become field errors, not bare 400s.</summary>
    public static (int Page, int PageSize) Parse(FieldErrors errors, string? page, string? pageSize) =>
        (Number(errors, "page", page, 1, MaxPage), Number(errors, "pageSize", pageSize, DefaultPageSize, MaxPageSize));

    private static int Number(FieldErrors errors, string field, string? value, int fallback, int max)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return fallback;
        }

        if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) || number < 1 || number > max)
        {
            errors.Add(field, $"Use 1 to {max}.");
            return fallback;
        }

        return number;
    }
}
