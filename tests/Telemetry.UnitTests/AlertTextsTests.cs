using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Telemetry.Grains.Alerts;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Ingest;
using Telemetry.Models.Wear;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// Every wearer-facing alert message in every language (<see cref="AlertLocales.All"/>): in that language, and with the
/// same figures as in every other. A new alert code without texts fails <see cref="Raised"/>, and so the theory.
/// </summary>
public sealed partial class AlertTextsTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_795_428_000_000);

    private const long Day0Ms = 1_795_392_000_000;

    private static readonly string[] Codes = [.. typeof(AlertCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(string)).Select(f => (string)f.GetRawConstantValue()!)];

    public static TheoryData<string, string> CodesAndLocales()
    {
        var data = new TheoryData<string, string>();
        foreach (var code in Codes)
        {
            foreach (var locale in AlertLocales.All)
            {
                data.Add(code, locale);
            }
        }

        return data;
    }

    public static TheoryData<string> Locales() => [.. AlertLocales.All];

    /// <summary>Each text a code is raised with, in every variant its figures give (a shoe without a weekly distance,
    /// a band without a cycle count).</summary>
    private static string[] Raised(string code, string locale) => code switch
    {
        AlertCodes.ShoeReplaceSoon => [AlertTexts.ShoeReplaceSoon(64.24, 112.66, 35.4, locale), AlertTexts.ShoeReplaceSoon(64.24, 112.66, 0.4, locale),
            AlertTexts.ShoeReplaceSoon(69.6, 15, 40, locale)],
        AlertCodes.ShoeReplaceNow => [AlertTexts.ShoeReplaceNow(58.7, locale)],
        AlertCodes.BandBatteryDegraded => [AlertTexts.BandBatteryDegraded(77.04, 1410, locale), AlertTexts.BandBatteryDegraded(77.04, null, locale)],
        AlertCodes.ShoeDelaminationSuspected or AlertCodes.BandWaterIngressSuspected or AlertCodes.BandBatteryFadingFast => [AlertTexts.Fault(code, locale)],
        _ => throw new InvalidOperationException($"{code} has no wearer-facing text: add one in every language to AlertTexts"),
    };

    /// <summary>The service's own last words of an alert of <paramref name="code"/>: superseded by it, recovered, a part replaced.</summary>
    private static string[] Closing(string code, string locale) =>
    [
        AlertTexts.Superseded(code, locale),
        AlertTexts.Recovered(code.StartsWith("shoe.", StringComparison.Ordinal) ? "cushioning" : "battery", 72.4, locale),
        .. InstalledParts.Names.Select(part => AlertTexts.PartReplaced(part, locale)),
        AlertTexts.PartReportedNew("battery", "BAT-0002", "BAT-0001", locale),
    ];

    [Theory]
    [MemberData(nameof(CodesAndLocales))]
    public void RaisedMessage_IsInItsLanguage_WithTheFiguresOfEveryOtherLanguage(string code, string locale)
    {
        var texts = Raised(code, locale);
        var english = Raised(code, AlertLocales.En);

        for (var i = 0; i < texts.Length; i++)
        {
            AssertInLanguage(texts[i], locale);
            Assert.Equal(Figures(english[i]), Figures(texts[i]));
        }
    }

    [Theory]
    [MemberData(nameof(CodesAndLocales))]
    public void ClosingWords_AreInTheAlertsLanguage_WithTheSameFigures(string code, string locale)
    {
        var texts = Closing(code, locale);
        var english = Closing(code, AlertLocales.En);

        for (var i = 0; i < texts.Length; i++)
        {
            AssertInLanguage(texts[i], locale);
            Assert.Equal(Figures(english[i]), Figures(texts[i]));
        }
    }

    [Theory]
    [MemberData(nameof(Locales))]
    public void Figures_DoNotDependOnTheServersCulture(string locale)
    {
        var invariant = Codes.SelectMany(code => Raised(code, locale)).ToArray();
        var before = CultureInfo.CurrentCulture;
        try
        {
            // The service runs in globalization-invariant mode, so no named culture exists: a made-up one with a decimal
            // comma, a group separator and another minus stands for a server configured otherwise.
            var odd = (CultureInfo)CultureInfo.InvariantCulture.Clone();
            odd.NumberFormat.NumberDecimalSeparator = ",";
            odd.NumberFormat.NumberGroupSeparator = ".";
            odd.NumberFormat.NegativeSign = "\u2212";
            CultureInfo.CurrentCulture = odd;
            Assert.Equal(invariant, Codes.SelectMany(code => Raised(code, locale)));
        }
        finally
        {
            CultureInfo.CurrentCulture = before;
        }
    }

    [Fact]
    public void AShoeReplaceSoonMessage_ReadsAsTheContractShowsIt()
    {
        Assert.Equal(
            "Cushioning is at about 64% of new. At your current 35 km a week, about 110 km (3 weeks) remain. Plan a replacement.",
            AlertTexts.ShoeReplaceSoon(64.24, 112.66, 35.4, AlertLocales.En));
        Assert.Equal(
            "缓震性能约为新鞋的64%。按您目前每周35公里的跑量，大约还能跑110公里（约3周）。请计划更换跑鞋。",
            AlertTexts.ShoeReplaceSoon(64.24, 112.66, 35.4, AlertLocales.ZhCn));
    }

    /// <summary>A shoe born with <c>zh-CN</c> hears of its wear in Chinese; an alert keeps its language to its last word
    /// when a later birth changes the wearer's, and the next alert speaks the new one. The evidence stays as it was.</summary>
    [Fact]
    public void AShoeBornInChinese_GetsItsAlertsInChinese_AndAnAlertKeepsItsLanguageWhenTheBirthChanges()
    {
        var state = new DeviceState { Birth = ShoeBirth(AlertLocales.ZhCn) };
        var alerts = new AlertStepper("shoe-zh", state);
        var events = Run(state, alerts, days: 6);

        var raised = Assert.Single(events);
        Assert.Equal((AlertCodes.ShoeReplaceSoon, AlertState.Raised), (raised.Code, raised.State));
        AssertInLanguage(raised.Message, AlertLocales.ZhCn);
        Assert.All(raised.Evidence, e => Assert.DoesNotMatch(Cjk(), e.Key));
        Assert.Equal(AlertLocales.ZhCn, state.OpenAlerts[WearAssessor.CushioningFamily].Locale);

        state.Birth = ShoeBirth(AlertLocales.En);
        events = Run(state, alerts, days: 20);

        Assert.Equal(
            [(AlertCodes.ShoeReplaceSoon, AlertState.Resolved, AlertLocales.ZhCn), (AlertCodes.ShoeReplaceNow, AlertState.Raised, AlertLocales.En)],
            events.Select(e => (e.Code, e.State, Cjk().IsMatch(e.Message) ? AlertLocales.ZhCn : AlertLocales.En)));
        Assert.Equal(AlertTexts.Superseded(AlertCodes.ShoeReplaceNow, AlertLocales.ZhCn), events[0].Message);
    }

    /// <summary>A device whose birth names no locale speaks <c>Alerts:DefaultLocale</c>, as configured (any case).</summary>
    [Theory]
    [InlineData(null, AlertLocales.En)]
    [InlineData("zh-cn", AlertLocales.ZhCn)]
    [InlineData("zh-CN", AlertLocales.ZhCn)]
    [InlineData("EN", AlertLocales.En)]
    public void ABirthWithoutALocale_GetsTheConfiguredDefault(string? configured, string expected)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(configured is null ? [] : [new("Alerts:DefaultLocale", configured)])
            .Build();
        var options = configuration.GetSection(AlertsOptions.SectionName).Get<AlertsOptions>() ?? new AlertsOptions();
        var state = new DeviceState { Birth = ShoeBirth(locale: null) };

        var raised = Assert.Single(Run(state, new AlertStepper("shoe-default", state, options.NormalizedDefaultLocale), days: 6));

        Assert.Equal(expected, options.NormalizedDefaultLocale);
        AssertInLanguage(raised.Message, expected);
        Assert.Equal(expected, state.OpenAlerts[WearAssessor.CushioningFamily].Locale);
    }

    [Fact]
    public void AFaultRaisedForAChineseBand_IsInChinese()
    {
        var state = new DeviceState { Birth = new DeviceBirth { Kind = "band", Model = "M1", Batch = "B1", Firmware = "1.0.0", Locale = AlertLocales.ZhCn } };
        var events = new List<AlertEvent>();
        var alerts = new AlertStepper("band-zh", state);

        alerts.Raise(AlertCodes.BandWaterIngressSuspected, AlertSeverity.Critical, Now, AlertTexts.Fault(AlertCodes.BandWaterIngressSuspected, alerts.Locale), [], events);

        Assert.Equal(AlertTexts.Fault(AlertCodes.BandWaterIngressSuspected, AlertLocales.ZhCn), Assert.Single(events).Message);
    }

    private static DeviceBirth ShoeBirth(string? locale) =>
        new() { Kind = "shoe", Model = "M1", Batch = "B1", Firmware = "1.0.0", WearerKg = 72, Locale = locale };

    /// <summary>One 45 km outing a day, as the end-to-end tests drive a shoe across its thresholds; the events it raised.</summary>
    private static List<AlertEvent> Run(DeviceState state, AlertStepper alerts, int days)
    {
        var events = new List<AlertEvent>();
        Dictionary<int, double>? kmByDay = null;
        var start = state.LastReadingMs ?? Day0Ms;
        for (var day = 1; day <= days; day++)
        {
            var at = start + (day * 86_400_000L);
            WearAssessor.ApplyReading(state, new ReadingRecord(at, 0, 1), [new MetricValue("distance_m", 45_000)], ref kmByDay);
            state.LastReadingMs = at;
            alerts.Climb(WearAssessor.Assess(state, new RuleWearModel(), Now)!.Value, Now, events);
        }

        return events;
    }

    private static void AssertInLanguage(string text, string locale)
    {
        if (locale == AlertLocales.ZhCn)
        {
            // Codes and serials are named as sent; anything else Latin would be an untranslated word, and an ASCII comma,
            // semicolon or bracket a half-width mark in Chinese text.
            var rest = SerialOrCode().Replace(text, string.Empty);
            Assert.Matches(Cjk(), text);
            Assert.DoesNotMatch(AsciiLetter(), rest);
            Assert.DoesNotMatch(HalfWidthMark(), rest);
        }
        else
        {
            Assert.Equal(AlertLocales.En, locale);
            Assert.DoesNotMatch(Cjk(), text);
            Assert.Matches(AsciiLetter(), text);
        }
    }

    private static string[] Figures(string text) => [.. Figure().Matches(SerialOrCode().Replace(text, " ")).Select(m => m.Value).Order(StringComparer.Ordinal)];

    [GeneratedRegex(@"[\u3000-\u303F\u4E00-\u9FFF\uFF00-\uFFEF]")]
    private static partial Regex Cjk();

    [GeneratedRegex("[A-Za-z]")]
    private static partial Regex AsciiLetter();

    [GeneratedRegex("[,;()]")]
    private static partial Regex HalfWidthMark();

    [GeneratedRegex(@"\d+(?:\.\d+)?")]
    private static partial Regex Figure();

    /// <summary>Alert codes (<c>shoe.cushioning.replace_now</c>) and part serials (<c>BAT-0002</c>).</summary>
    [GeneratedRegex(@"[a-z_]+(?:\.[a-z_]+)+|[A-Z]+-\d+")]
    private static partial Regex SerialOrCode();
}
