namespace Telemetry.Ingest.Api;

/// <summary>
/// What an API key may do. Each scope is a claim on the caller and an authorization policy of the same name:
/// <c>read</c> (alerts, quality, stats, twins without personal fields), <c>operate</c> (ack, resolve, service
/// actions, after-sales events) and <c>admin</c> (everything, including personal fields). Admin implies read
/// and operate; read and operate are independent, so a help-desk key can act on alerts it was given without
/// seeing the fleet, and a dashboard key can read without changing anything.
/// </summary>
internal static class ApiScope
{
    public const string ClaimType = "scope";

    public const string Read = "read";

    public const string Operate = "operate";

    public const string Admin = "admin";

    public static readonly string[] All = [Read, Operate, Admin];

    /// <summary>
    /// The scopes a key holds, from a list such as <c>read,operate</c> (commas or spaces, any case), with admin expanded
    /// to all three; null with the first unknown name in <paramref name="unknown"/>, or with none named.
    /// </summary>
    public static string[]? Parse(string text, out string? unknown)
    {
        unknown = null;
        var named = new List<string>();
        foreach (var name in text.Split([',', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (All.FirstOrDefault(s => s.Equals(name, StringComparison.OrdinalIgnoreCase)) is not { } scope)
            {
                unknown = name;
                return null;
            }

            named.Add(scope);
        }

        if (named.Count == 0)
        {
            return null;
        }

        return named.Contains(Admin) ? All : [.. named.Distinct()];
    }
}
