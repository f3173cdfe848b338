namespace Telemetry.Grains.Alerts;

/// <summary>
/// The languages wearer-facing alert messages are written in: a birth's optional <c>locale</c> picks one, and
/// <c>Alerts:DefaultLocale</c> serves devices that name none. Tags are BCP 47 and, as BCP 47 says, compared without
/// regard to case (<c>zh-cn</c> is <c>zh-CN</c>); the service always stores and reports the forms below.
/// </summary>
public static class AlertLocales
{
    public const string En = "en";

    /// <summary>Simplified Chinese, as written in mainland China.</summary>
    public const string ZhCn = "zh-CN";

    public static readonly IReadOnlyList<string> All = [En, ZhCn];

    /// <summary>The service's form of <paramref name="tag"/>, or false for a locale it has no texts in.</summary>
    public static bool TryNormalize(string? tag, out string locale)
    {
        foreach (var known in All)
        {
            if (string.Equals(tag, known, StringComparison.OrdinalIgnoreCase))
            {
                locale = known;
                return true;
            }
        }

        locale = En;
        return false;
    }
}
