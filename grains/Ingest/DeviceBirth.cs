namespace Telemetry.Grains.Ingest;

/// <summary>A validated birth message: what the device is.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.birth")]
public sealed record DeviceBirth
{
    [Id(0)] public required string Kind { get; init; }

    [Id(1)] public required string Model { get; init; }

    [Id(2)] public required string Batch { get; init; }

    [Id(3)] public required string Firmware { get; init; }

    [Id(4)] public DateOnly? Manufactured { get; init; }

    [Id(5)] public double? WearerKg { get; init; }

    /// <summary>Optional band field (a v1 addition): the battery's rated capacity, the reference for health.</summary>
    [Id(6)] public double? RatedCapacityMah { get; init; }
}
