namespace Telemetry.Grains.Ingest;

/// <summary>
/// Everything the pipeline gathered for one device in one round, in device order: the messages it handled
/// and, in two flat arrays, the readings it accepted and their metrics. One grain call carries it all.
/// </summary>
[GenerateSerializer, Immutable, Alias("telemetry.batch")]
public sealed record TelemetryBatch
{
    [Id(0)] public required BatchMessage[] Messages { get; init; }

    [Id(1)] public required ReadingRecord[] Readings { get; init; }

    [Id(2)] public required MetricValue[] Metrics { get; init; }

    /// <summary>The newest birth the device sent in this round, applied before the readings.</summary>
    [Id(3)] public DeviceBirth? Birth { get; init; }

    /// <summary>The caller does not know the twin's profile yet: return it with the result
    /// (<see cref="IngestResult.Profile"/>) instead of a call of its own.</summary>
    [Id(4)] public bool WantsProfile { get; init; }

    /// <summary>The <see cref="DeviceBirth.TagStamp"/> of the birth this batch's readings were stored under. A twin whose
    /// own birth stamps otherwise returns its profile, so the caller tags its next rounds as the twin says.</summary>
    [Id(5)] public int TaggedWith { get; init; }

    /// <summary>Whether the twin should return its profile with the result: asked for, or the readings were tagged
    /// with a birth other than <paramref name="held"/>.</summary>
    public bool NeedsProfile(DeviceBirth? held) => WantsProfile || TaggedWith != DeviceBirth.TagStamp(held);
}
