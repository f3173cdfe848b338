namespace Telemetry.Models.Wear;

/// <summary>
/// Shock absorption retained by an EVA midsole against distance, fitted to Cook, Kester &amp; Brunet (1985):
/// about 75% after 80 km, 67% after 240 km and 60% after 800 km. The loss is front-loaded, which a
/// logarithm captures with two parameters: <c>pct = 100 − a·ln(1 + km / k)</c>, a = 6.74, k = 2 km, which
/// reproduces the three published points within one percentage point.
/// </summary>
public static class CushioningCurve
{
    /// <summary>Below this the shoe no longer protects the runner: the end of its useful life.</summary>
    public const double ReplaceNowPct = 60;

    private const double Scale = 6.74;
    private const double KneeKm = 2.0;

    /// <summary>Cushioning left after <paramref name="km"/> of reference running.</summary>
    public static double PercentAt(double km) => 100 - (Scale * Math.Log(1 + (Math.Max(0, km) / KneeKm)));

    /// <summary>The reference distance at which cushioning falls to <paramref name="pct"/>.</summary>
    public static double KmAt(double pct) => KneeKm * (Math.Exp((100 - pct) / Scale) - 1);
}
