using Telemetry.Grains.Alerts;
using Telemetry.Grains.Ingest;

namespace Telemetry.Grains.Devices;

/// <summary>
/// A part was replaced: by after-sales (the service endpoint) or as the device's birth reports (a new serial).
/// The replaced part starts from new (its wear, its baselines, its alert ladder) and its open alerts resolve.
/// </summary>
internal static class PartReplacement
{
    /// <summary>The alert families a replaced part ends: its wear ladder and the faults that live in it.</summary>
    public static string[] Families(string part) => part switch
    {
        "shoe" => [WearAssessor.CushioningFamily, AlertCodes.ShoeDelaminationSuspected],
        "insole" => [WearAssessor.CushioningFamily],
        "battery" => [WearAssessor.BatteryFamily, AlertCodes.BandBatteryFadingFast],
        "band" => [WearAssessor.BatteryFamily, AlertCodes.BandBatteryFadingFast, AlertCodes.BandWaterIngressSuspected],
        _ => throw new ArgumentOutOfRangeException(nameof(part), part, "part must be shoe, insole, battery or band"),
    };

    /// <summary>
    /// Resets <paramref name="part"/>'s usage, detector memory, wear and weekly rows, and resolves its families' open alerts with
    /// <paramref name="sentence"/> in the alert's language when given, else <paramref name="note"/>, else a plain sentence
    /// in the alert's language as the last word, one event each. Throws, changing nothing, for a part other than shoe, insole, battery or band.
    /// </summary>
    public static void Replace(
        DeviceState state, AlertStepper alerts, string part, DateTimeOffset now, string actor, string? note, List<AlertEvent> events,
        Func<string, string>? sentence = null)
    {
        var families = Families(part);
        switch (part)
        {
            case "shoe":
                state.ShoeUsage = new();
                state.Faults = new();
                state.DistanceM = 0;
                break;
            case "insole":
                state.ShoeUsage = new();
                state.DistanceM = 0;
                break;
            case "battery":
                state.BandUsage = new();
                state.Faults.Capacity = new();
                break;
            default:
                state.BandUsage = new();
                state.Faults = new();
                // Another band's counter may be well ahead: its first counts are paid for from the twin's first reading.
                state.ChargeCountMs = null;
                break;
        }

        // The brand's own model reads the part's life from its first row: a new part of the twin's kind starts its rows
        // afresh, from new (a band's charge counter goes on across a new battery: its rows count from here).
        if (state.Birth?.Kind is { } kind && Applies(part, kind))
        {
            state.OwnRun = state.OwnRun?.Renewed(kind == "band" ? state.ChargeCycles ?? 0 : 0);
        }
        state.Wear = null;
        foreach (var family in families)
        {
            // An agent's note goes to the wearer as written; the service's own sentence speaks the alert's language.
            var locale = alerts.LocaleOf(family);
            var text = sentence?.Invoke(locale) ?? note ?? AlertTexts.PartReplaced(part, locale);
            state.AlertLevels.Remove(family);
            alerts.Resolve(family, now, actor, text, note, evidence: null, events);
        }
    }

    /// <summary>
    /// A new or changed birth: the twin takes it, and each part of the device's kind whose serial changed since the
    /// last birth was replaced (the first serial of a part is simply recorded). Returns the parts replaced.
    /// </summary>
    public static IReadOnlyList<string> ApplyBirth(DeviceState state, AlertStepper alerts, DeviceBirth birth, DateTimeOffset now, List<AlertEvent> events)
    {
        var before = state.Birth?.Parts;
        state.Birth = birth;
        if (before is null || birth.Parts is not { } after)
        {
            return [];
        }

        List<string>? replaced = null;
        foreach (var part in InstalledParts.Names)
        {
            if (before[part] is { } old && after[part] is { } fitted && old != fitted && Applies(part, birth.Kind))
            {
                // The event's note (for after-sales) stays in English, as it did; the wearer's text is in the alert's language.
                Replace(state, alerts, part, now, "device", AlertTexts.PartReportedNew(part, fitted, old, AlertLocales.En), events,
                    locale => AlertTexts.PartReportedNew(part, fitted, old, locale));
                (replaced ??= []).Add(part);
            }
        }

        return replaced ?? [];
    }

    /// <summary>Whether <paramref name="part"/> is one a device of <paramref name="kind"/> has.</summary>
    private static bool Applies(string part, string kind) => kind == "shoe" ? part is "shoe" or "insole" : part is "battery" or "band";
}
