namespace Telemetry.Grains.Devices;

/// <summary>The latest wear estimate of a device, with the model version that produced it.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.wear")]
public sealed record WearSnapshot
{
    [Id(0)] public required string ModelVersion { get; init; }

    [Id(1)] public required DateTimeOffset EstimatedAt { get; init; }

    /// <summary>Shoes: shock absorption left, percent of new.</summary>
    [Id(2)] public double? CushioningPct { get; init; }

    /// <summary>Shoes: km until cushioning falls below 60%.</summary>
    [Id(3)] public double? RemainingKm { get; init; }

    /// <summary>Bands: full-charge capacity, percent of new.</summary>
    [Id(4)] public double? BatteryHealthPct { get; init; }

    /// <summary>Bands: charge cycles until health falls below 80%.</summary>
    [Id(5)] public double? RemainingCycles { get; init; }

    /// <summary>The 80% interval of the remaining distance or cycles (learned models only).</summary>
    [Id(6)] public double? RemainingP10 { get; init; }

    [Id(7)] public double? RemainingP90 { get; init; }
}
