using Telemetry.Grains.Alerts;
using Telemetry.Grains.Devices;
using Telemetry.Models.Wear;

namespace Telemetry.Ingest.Console;

/// <summary>A point of a chart line: distance (km) or charge cycles, and a percent of new.</summary>
internal sealed record WearPoint(double X, double Value);

/// <summary>A vertical band: from <see cref="Low"/> to <see cref="High"/> percent at <see cref="X"/>.</summary>
internal sealed record WearBand(double X, double Low, double High);

/// <summary>
/// What the device page draws: the wear so far and its projection, along the published curve the rule model uses
/// (<see cref="CushioningCurve"/> for shoes, a linear fade for band batteries, <see cref="BatteryFade"/>) scaled to pass
/// through the twin's current estimate; where the remaining life's p10–p90 interval puts the end of life; and the
/// alert thresholds of the twin's ladder. The twin keeps only its latest estimate, so the line is the model's shape
/// through it, not a history of estimates.
/// </summary>
internal sealed record WearTrajectory(
    string XTitle, string YTitle, double YMin, WearPoint[] Past, WearPoint[] Projected, WearBand[] Band,
    IReadOnlyList<(AlertLevel Level, WearPoint[] Line)> Thresholds, WearPoint Now, double? Remaining)
{
    private const int Steps = 40;

    public static WearTrajectory? For(DeviceSnapshot twin)
    {
        if (twin.Wear is { CushioningPct: { } cushioning } wear)
        {
            var km = twin.Totals.DistanceKm;
            // Heavier runners and harder surfaces wear faster than the reference: one factor maps this shoe's km onto the curve.
            var scale = km > 0 && cushioning < 100 ? CushioningCurve.KmAt(cushioning) / km : 1;
            return Build("km", "Cushioning, % of new", 50, km, cushioning, wear.RemainingKm, wear.RemainingP10, wear.RemainingP90,
                x => CushioningCurve.PercentAt(x * scale), AlertLadder.Cushioning);
        }

        if (twin.Wear is { BatteryHealthPct: { } health } band)
        {
            double cycles = twin.Totals.ChargeCycles ?? 0;
            var fade = cycles >= BatteryFade.MinCyclesForObservedRate ? Math.Max(0, 100 - health) / cycles : BatteryFade.DefaultFadePctPerCycle;
            return Build("charge cycles", "Battery health, % of new", 60, cycles, health, band.RemainingCycles, band.RemainingP10, band.RemainingP90,
                x => 100 - (fade * x), AlertLadder.Battery);
        }

        return null;
    }

    private static WearTrajectory Build(
        string xTitle, string yTitle, double yMin, double now, double value, double? remaining, double? p10, double? p90,
        Func<double, double> curve, AlertLadder ladder)
    {
        var end = now + Math.Max(remaining ?? 0, p90 ?? 0);
        var xMax = Math.Max(end * 1.1, Math.Max(now * 1.25, 10));
        var past = Enumerable.Range(0, Steps + 1).Select(i => now * i / Steps).Select(x => new WearPoint(x, Clamp(curve(x), yMin))).ToList();
        past[^1] = new WearPoint(now, value);
        var projected = Enumerable.Range(0, Steps + 1).Select(i => now + ((xMax - now) * i / Steps)).Select(x => new WearPoint(x, Clamp(curve(x), yMin))).ToArray();
        projected[0] = new WearPoint(now, value);
        WearBand[] bandPoints = p10 is { } low && p90 is { } high
            ? [new WearBand(now + low, yMin, 100), new WearBand(now + high, yMin, 100)]
            : [];
        var thresholds = ladder.Levels.Select(l => (l, new[] { new WearPoint(0, l.Below), new WearPoint(xMax, l.Below) })).ToList();
        return new WearTrajectory(xTitle, yTitle, yMin, [.. past], projected, bandPoints, thresholds, new WearPoint(now, value), remaining);
    }

    private static double Clamp(double value, double min) => Math.Clamp(value, min, 100);
}
