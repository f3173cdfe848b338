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

    /// <summary>What the time-series store did with accepted readings.</summary>
    public required StorageStats Storage { get; init; }

    /// <summary>Alerts escalated for missing their first-response SLA.</summary>
    public required long AlertsEscalated { get; init; }
}

/// <summary>Time-series store counters since start (lines of line protocol; one line per reading).</summary>
internal sealed record StorageStats
{
    public required long LinesWritten { get; init; }

    public required long LinesSpilled { get; init; }

    public required long LinesReplayed { get; init; }

    public required long LinesDeadLettered { get; init; }

    /// <summary>Spilled bytes not yet replayed: non-zero while InfluxDB is unavailable or catching up.</summary>
    public required long SpillBacklogBytes { get; init; }

    public required long Retries { get; init; }

    public required long Splits { get; init; }

    public required long Failures { get; init; }
}
