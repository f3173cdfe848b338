namespace Telemetry.Models.Wear;

/// <summary>What a band's twin knows about its battery.</summary>
/// <param name="ReferenceCapacityMah">Capacity when new: the rated capacity from the birth message, or the
/// highest capacity the fuel gauge reported in the band's first charge cycles.</param>
/// <param name="SmoothedCapacityMah">Recent full-charge capacity, smoothed because cells recover a little after rest.</param>
/// <param name="CyclesSinceReference">Equivalent full cycles since the reference capacity was measured.</param>
/// <param name="CyclesPerWeek">How fast the wearer cycles the battery, to turn cycles into weeks.</param>
/// <param name="MeanTempC">Mean band temperature, when reported.</param>
/// <param name="FittedHealthPct">Health from the least-squares line through recent charge summaries (less noisy than the smoothed value).</param>
/// <param name="ObservedFadePctPerCycle">The recent capacity fade per cycle (least squares over recent charge summaries), when known.</param>
public readonly record struct BandWearInput(
    double ReferenceCapacityMah,
    double SmoothedCapacityMah,
    double CyclesSinceReference,
    double CyclesPerWeek,
    double? ObservedFadePctPerCycle = null,
    double? FittedHealthPct = null,
    double? MeanTempC = null);
