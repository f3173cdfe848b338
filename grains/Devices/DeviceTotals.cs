namespace Telemetry.Grains.Devices;

/// <summary>Running totals and counters of a twin.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.device-totals")]
public sealed record DeviceTotals
{
    [Id(0)] public double DistanceKm { get; init; }

    [Id(1)] public double ActiveHours { get; init; }

    [Id(2)] public long Steps { get; init; }

    [Id(3)] public long? ChargeCycles { get; init; }

    [Id(4)] public long Messages { get; init; }

    [Id(5)] public long Readings { get; init; }

    [Id(6)] public long RejectedReadings { get; init; }

    [Id(7)] public long DuplicateMessages { get; init; }
}
