namespace Telemetry.Grains.Devices;

/// <summary>The values of one reading that the sudden-fault detector reads (null: not in the reading).</summary>
internal readonly record struct FaultSignals(
    double? ImpactG,
    double? ContactMs,
    double? HumidityPct,
    double? ChargeCycles,
    double? CapacityMah)
{
    /// <summary>The reading's charge count was not applied: it ran further ahead of the twin's counter than time allows (<see cref="WearAssessor.ChargeCountPlausible"/>).</summary>
    public bool ChargeCountIgnored { get; init; }
}
