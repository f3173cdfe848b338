using Telemetry.Models.Faults;
using Telemetry.Models.Wear;

namespace Telemetry.Models.Learning;

/// <summary>
/// The running usage of a shoe that the wear models need, accumulated one reading at a time. The device grain
/// and the training data both go through this class, so a model is scored on exactly the inputs it was
/// trained on.
/// </summary>
public sealed class ShoeUsage
{
    public const int ImpactBaselineReadings = 10;
    private const double ImpactSmoothing = 0.1;

    public double DistanceKm { get; set; }

    public double RunningSeconds { get; set; }

    public double KmWithDuration { get; set; }

    public int ImpactBaselineCount { get; set; }

    public double ImpactBaselineSum { get; set; }

    public double? ImpactRecentG { get; set; }

    public long? FirstMs { get; set; }

    public long? LastMs { get; set; }

    public double TemperatureSum { get; set; }

    public int TemperatureCount { get; set; }

    /// <summary>The weekly cushioning trajectory, kept by the curve-fit model only (see <see cref="WearHistory"/>).</summary>
    public WearHistory History { get; set; } = new();

    /// <summary>Mean midsole temperature of the runs (EVA wears faster in the cold), or null.</summary>
    public double? MeanTemperatureC => TemperatureCount > 0 ? TemperatureSum / TemperatureCount : null;

    public void Observe(long timestampMs, double? distanceM, double? durationS, double? impactG, double? midsoleTempC = null)
    {
        if (midsoleTempC is { } t)
        {
            TemperatureSum += t;
            TemperatureCount++;
        }

        FirstMs = FirstMs is { } f ? Math.Min(f, timestampMs) : timestampMs;
        LastMs = LastMs is { } l ? Math.Max(l, timestampMs) : timestampMs;
        History.Week = WearHistory.WeekOf(FirstMs.Value, LastMs.Value);
        if (distanceM is { } m)
        {
            DistanceKm += m / 1000;
            if (durationS is { } s && m > 0)
            {
                RunningSeconds += s;
                KmWithDuration += m / 1000;
            }
        }

        if (impactG is { } g)
        {
            if (ImpactBaselineCount < ImpactBaselineReadings)
            {
                ImpactBaselineCount++;
                ImpactBaselineSum += g;
            }

            ImpactRecentG = ImpactRecentG is { } recent ? recent + (ImpactSmoothing * (g - recent)) : g;
        }
    }

    public ShoeWearInput Input(double? wearerKg)
    {
        var weeks = FirstMs is { } first && LastMs is { } last ? Math.Max(1, (last - first) / (7 * 86_400_000.0)) : 1;
        return new ShoeWearInput(
            DistanceKm,
            wearerKg,
            ImpactBaselineCount >= ImpactBaselineReadings ? ImpactBaselineSum / ImpactBaselineCount : null,
            ImpactRecentG,
            DistanceKm / weeks,
            KmWithDuration > 0 ? RunningSeconds / 60 / KmWithDuration : null,
            MeanTemperatureC);
    }
}

/// <summary>The running battery history of a band that the wear models need (see <see cref="ShoeUsage"/>).</summary>
public sealed class BandUsage
{
    private const int ReferenceSamples = 5;
    private const double Smoothing = 0.3;

    public double? ReferenceMah { get; set; }

    public double ReferenceCycles { get; set; }

    public double? SmoothedMah { get; set; }

    public double Cycles { get; set; }

    public int Samples { get; set; }

    public CapacityTrend Trend { get; set; } = new();

    public double? LastFadePctPerCycle { get; set; }

    public long? FirstMs { get; set; }

    public long? LastMs { get; set; }

    public double FirstCycles { get; set; } = double.NaN;

    public double TemperatureSum { get; set; }

    public int TemperatureCount { get; set; }

    /// <summary>The weekly battery-health trajectory, kept by the curve-fit model only (see <see cref="WearHistory"/>).</summary>
    public WearHistory History { get; set; } = new();

    /// <summary>A periodic sample's temperature (heat speeds fade).</summary>
    public void ObserveTemperature(double temperatureC)
    {
        TemperatureSum += temperatureC;
        TemperatureCount++;
    }

    /// <summary>A charge summary: cycles so far and the gauge's full-charge capacity.</summary>
    public void Observe(long timestampMs, double cycles, double capacityMah, double? ratedMah)
    {
        FirstMs ??= timestampMs;
        LastMs = timestampMs;
        History.Week = WearHistory.WeekOf(FirstMs.Value, timestampMs);
        if (double.IsNaN(FirstCycles))
        {
            FirstCycles = cycles;
        }

        Cycles = Math.Max(Cycles, cycles);
        Samples++;
        if (ratedMah is > 0)
        {
            ReferenceMah = ratedMah;
            ReferenceCycles = 0;
        }
        else if (Samples <= ReferenceSamples && capacityMah > (ReferenceMah ?? 0))
        {
            ReferenceMah = capacityMah;
            ReferenceCycles = cycles;
        }

        SmoothedMah = SmoothedMah is { } s ? s + (Smoothing * (capacityMah - s)) : capacityMah;
        if (ReferenceMah is > 0 and var reference && Trend.Observe(cycles, capacityMah, reference) is { } fade)
        {
            LastFadePctPerCycle = fade;
        }
    }

    public BandWearInput? Input()
    {
        if (ReferenceMah is not > 0 || SmoothedMah is not { } smoothed)
        {
            return null;
        }

        var weeks = FirstMs is { } first && LastMs is { } last ? Math.Max(1, (last - first) / (7 * 86_400_000.0)) : 1;
        return new BandWearInput(ReferenceMah.Value, smoothed, Math.Max(0, Cycles - ReferenceCycles),
            double.IsNaN(FirstCycles) ? 0 : (Cycles - FirstCycles) / weeks, LastFadePctPerCycle, Trend.FittedPct,
            TemperatureCount > 0 ? TemperatureSum / TemperatureCount : null);
    }
}
