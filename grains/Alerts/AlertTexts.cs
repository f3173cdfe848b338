using System.Globalization;

namespace Telemetry.Grains.Alerts;

/// <summary>
/// The wearer-facing sentences of each alert, in each of <see cref="AlertLocales.All"/>. They name a number the wearer
/// can check and an action, and round figures to what an estimate can honestly claim (10 km, whole weeks, whole
/// percent). Every language carries the same figures, formatted alike (invariant culture): a wearer's message and an
/// agent's reading of it in another language must not disagree on a number. Terms stay fixed across texts: 缓震 for
/// cushioning, 电池健康度 for battery health, 跑鞋 for the shoe, 手环 for the band.
/// </summary>
public static class AlertTexts
{
    public static string ShoeReplaceSoon(double cushioningPct, double remainingKm, double weeklyKm, string locale)
    {
        var km = Math.Max(10, Math.Round(remainingKm / 10) * 10);
        var weeks = weeklyKm >= 1 ? Math.Max(1, Math.Round(km / weeklyKm)) : (double?)null;
        return (IsChinese(locale), weeks) switch
        {
            (false, { } w) => Format($"Cushioning is at about {cushioningPct:0}% of new. At your current {weeklyKm:0} km a week, about {km:0} km ({w:0} {(w == 1 ? "week" : "weeks")}) remain. Plan a replacement."),
            (false, null) => Format($"Cushioning is at about {cushioningPct:0}% of new. About {km:0} km remain. Plan a replacement."),
            (true, { } w) => Format($"缓震性能约为新鞋的{cushioningPct:0}%。按您目前每周{weeklyKm:0}公里的跑量，大约还能跑{km:0}公里（约{w:0}周）。请计划更换跑鞋。"),
            (true, null) => Format($"缓震性能约为新鞋的{cushioningPct:0}%，大约还能跑{km:0}公里。请计划更换跑鞋。"),
        };
    }

    public static string ShoeReplaceNow(double cushioningPct, string locale) => IsChinese(locale)
        ? Format($"缓震性能约为新鞋的{cushioningPct:0}%，已低于跑鞋仍能有效吸收冲击的水平。请在下次长距离跑步前更换。")
        : Format($"Cushioning is at about {cushioningPct:0}% of new, below the level where these shoes still absorb impact well. Replace them before your next long run.");

    public static string BandBatteryDegraded(double healthPct, long? cycles, string locale) => (IsChinese(locale), cycles) switch
    {
        (false, { } c) => Format($"Battery health is at about {healthPct:0}% of new after {c} charge cycles, so the band runs down sooner than it used to. A battery service is recommended."),
        (false, null) => Format($"Battery health is at about {healthPct:0}% of new, so the band runs down sooner than it used to. A battery service is recommended."),
        (true, { } c) => Format($"电池健康度约为新电池的{healthPct:0}%（已充电{c}次），手环的续航因此比以前短。建议进行电池维修保养。"),
        (true, null) => Format($"电池健康度约为新电池的{healthPct:0}%，手环的续航因此比以前短。建议进行电池维修保养。"),
    };

    public static string Fault(string code, string locale) => (IsChinese(locale), code) switch
    {
        (false, AlertCodes.ShoeDelaminationSuspected) =>
            "Your shoe has started to strike harder and stay on the ground longer than it used to, which often means the sole is coming loose. Please have it checked; it may be covered by warranty.",
        (false, AlertCodes.BandWaterIngressSuspected) =>
            "Moisture seems to have got inside your band and is not drying out. Dry it, avoid water for now, and have the seal checked.",
        (false, AlertCodes.BandBatteryFadingFast) =>
            "Your band's battery is losing capacity much faster than normal for its age. A battery check is recommended; it may be covered by warranty.",
        (false, _) => "A possible fault was detected. Please have the device checked.",
        (true, AlertCodes.ShoeDelaminationSuspected) =>
            "您的跑鞋落地时的冲击比以前更大、触地时间也更长，这通常说明鞋底开始脱胶。请送检；可能在保修范围内。",
        (true, AlertCodes.BandWaterIngressSuspected) =>
            "您的手环内部似乎进了水汽，且一直没有干。请将其晾干，暂时避免沾水，并送修检查密封是否完好。",
        (true, AlertCodes.BandBatteryFadingFast) =>
            "您手环电池的容量衰减速度远快于同等使用时长的正常水平。建议检查电池；可能在保修范围内。",
        (true, _) => "检测到可能的故障。请将设备送检。",
    };

    /// <summary>The last word of an alert that a more severe one of its family replaces; the code stays as sent.</summary>
    public static string Superseded(string code, string locale) => IsChinese(locale)
        ? $"已被更紧急的提醒（{code}）取代。"
        : $"Replaced by a more urgent alert ({code}).";

    /// <summary>The last word of a wear alert whose value climbed back; <paramref name="family"/> is the ladder's family
    /// (<c>cushioning</c> or <c>battery</c>).</summary>
    public static string Recovered(string family, double pct, string locale) => (IsChinese(locale), family == "battery") switch
    {
        (false, false) => Format($"Cushioning is back at about {pct:0}% of new. No action needed."),
        (false, true) => Format($"Battery health is back at about {pct:0}% of new. No action needed."),
        (true, false) => Format($"缓震性能已回升至新鞋的约{pct:0}%，无需处理。"),
        (true, true) => Format($"电池健康度已回升至新电池的约{pct:0}%，无需处理。"),
    };

    /// <summary>The last word of the alerts a part replacement resolves when after-sales left no note.</summary>
    public static string PartReplaced(string part, string locale) => IsChinese(locale)
        ? $"{PartName(part)}已更换。"
        : $"The {part} was replaced.";

    /// <summary>The last word of the alerts resolved by a birth that reports a new serial for a part; serials stay as sent.</summary>
    public static string PartReportedNew(string part, string fitted, string old, string locale) => IsChinese(locale)
        ? $"设备报告已换上新的{PartName(part)}（{fitted}），替换了原来的{old}。"
        : $"The device reports a new {part} ({fitted}) in place of {old}.";

    private static string PartName(string part) => part switch
    {
        "shoe" => "跑鞋",
        "insole" => "鞋垫",
        "battery" => "电池",
        "band" => "手环",
        _ => part,
    };

    private static bool IsChinese(string locale) => locale == AlertLocales.ZhCn;

    private static string Format(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
