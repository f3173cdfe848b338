using Telemetry.Grains.Ingest;

namespace Telemetry.Grains.Devices;

/// <summary>The twin as the HTTP API returns it.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.device-snapshot")]
public sealed record DeviceSnapshot
{
    [Id(0)] public required string Id { get; init; }

    [Id(1)] public DeviceBirth? Birth { get; init; }

    [Id(2)] public DateTimeOffset? FirstSeen { get; init; }

    [Id(3)] public DateTimeOffset? LastSeen { get; init; }

    [Id(4)] public DateTimeOffset? LastReadingAt { get; init; }

    [Id(5)] public required DeviceTotals Totals { get; init; }

    [Id(6)] public WearSnapshot? Wear { get; init; }

    [Id(7)] public required OpenAlert[] OpenAlerts { get; init; }

    [Id(8)] public required IReadOnlyDictionary<string, double> LastValues { get; init; }

    [Id(9)] public required MessageKey[] Acked { get; init; }
}
