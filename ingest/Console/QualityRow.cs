using Telemetry.Grains.Quality;

namespace Telemetry.Ingest.Console;

/// <summary>A defect-rate row as the quality page shows it: rates in percent, and a label for the chart's axis.</summary>
internal sealed record QualityRow(DefectRateRow Row)
{
    public string Label => $"{Row.Model} {Row.Batch} {Row.FailureMode}";

    public double RatePct => Row.Rate * 100;

    public double CiLowPct => Row.CiLow * 100;

    public double CiHighPct => Row.CiHigh * 100;

    public double BaselinePct => Row.Baseline * 100;

    /// <summary>Elevated first, then watch, then normal; within each the rate furthest above its baseline first.</summary>
    public static IEnumerable<QualityRow> Ordered(IEnumerable<DefectRateRow> rows) => rows
        .OrderBy(r => r.Status switch { "elevated" => 0, "watch" => 1, _ => 2 })
        .ThenBy(r => r.PValue)
        .ThenByDescending(r => r.Rate - r.Baseline)
        .ThenBy(r => r.Model, StringComparer.Ordinal).ThenBy(r => r.Batch, StringComparer.Ordinal).ThenBy(r => r.FailureMode, StringComparer.Ordinal)
        .Select(r => new QualityRow(r));
}
