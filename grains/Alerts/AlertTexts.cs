using System.Globalization;

namespace Telemetry.Grains.Alerts;

/// <summary>
/// The wearer-facing sentences of each alert. They name a number the wearer can check and an action,
/// and round figures to what an estimate can honestly claim (10 km, whole weeks, whole percent).
/// </summary>
public static class AlertTexts
{
    public static string ShoeReplaceSoon(double cushioningPct, double remainingKm, double weeklyKm)
    {
        var km = Math.Max(10, Math.Round(remainingKm / 10) * 10);
        var text = Format($"Cushioning is at about {cushioningPct:0}% of new. ");
        if (weeklyKm >= 1)
        {
            var weeks = Math.Max(1, Math.Round(km / weeklyKm));
            text += Format($"At your current {weeklyKm:0} km a week, about {km:0} km ({weeks:0} {(weeks == 1 ? "week" : "weeks")}) remain. ");
        }
        else
        {
            text += Format($"About {km:0} km remain. ");
        }

        return text + "Plan a replacement.";
    }

    public static string ShoeReplaceNow(double cushioningPct) =>
        Format($"Cushioning is at about {cushioningPct:0}% of new, below the level where these shoes still absorb impact well. Replace them before your next long run.");

    public static string BandBatteryDegraded(double healthPct, long? cycles) => cycles is { } c
        ? Format($"Battery health is at about {healthPct:0}% of new after {c} charge cycles, so the band runs down sooner than it used to. A battery service is recommended.")
        : Format($"Battery health is at about {healthPct:0}% of new, so the band runs down sooner than it used to. A battery service is recommended.");

    public static string Fault(string code) => code switch
    {
        AlertCodes.ShoeDelaminationSuspected =>
            "Your shoe has started to strike harder and stay on the ground longer than it used to, which often means the sole is coming loose. Please have it checked; it may be covered by warranty.",
        AlertCodes.BandWaterIngressSuspected =>
            "Moisture seems to have got inside your band and is not drying out. Dry it, avoid water for now, and have the seal checked.",
        AlertCodes.BandBatteryFadingFast =>
            "Your band's battery is losing capacity much faster than normal for its age. A battery check is recommended; it may be covered by warranty.",
        _ => "A possible fault was detected. Please have the device checked.",
    };

    public static string Superseded(string code) => $"Replaced by a more urgent alert ({code}).";

    public static string Recovered(string what, double pct) => Format($"{what} is back at about {pct:0}% of new. No action needed.");

    private static string Format(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
