namespace Telemetry.Ingest.Api;

/// <summary>Pipeline counters since start, for operators and tests.</summary>
internal sealed record IngestStats
{
    public required long Messages { get; init; }

    public required long Readings { get; init; }

    public required long Duplicates { get; init; }

    public required long InvalidTopics { get; init; }

    public required long ErrorsDropped { get; init; }

    public required long GrainFailures { get; init; }

    public required int Queued { get; init; }

    /// <summary>Rejections by reason code (messages and readings).</summary>
    public required Dictionary<string, long> Rejections { get; init; }
}
