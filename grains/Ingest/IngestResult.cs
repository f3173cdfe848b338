namespace Telemetry.Grains.Ingest;

/// <summary>What the device may now be told, and what the grain made of the batch.</summary>
/// <param name="Acks">For each boot the batch touched, the highest contiguous seq handled so far
/// (absent while seq 0 of that boot is missing).</param>
/// <param name="DuplicateMessages">Messages the grain had already applied (redeliveries).</param>
[GenerateSerializer, Immutable, Alias("telemetry.ingest-result")]
public sealed record IngestResult(
    [property: Id(0)] MessageKey[] Acks,
    [property: Id(1)] int DuplicateMessages)
{
    /// <summary>Per boot in <see cref="Acks"/>: the gaps below its highest seq handled, lowest first (empty when none).</summary>
    [Id(2)] public Dictionary<string, SeqRange[]>? Missing { get; init; }

    /// <summary>Messages refused because their boot holds too many runs beyond gaps: not applied, not acknowledged.</summary>
    [Id(3)] public MessageKey[]? Refused { get; init; }

    /// <summary>The twin's profile after the batch, when the batch asked for it (<see cref="TelemetryBatch.WantsProfile"/>).</summary>
    [Id(4)] public IngestProfile? Profile { get; init; }

    /// <summary>Of <see cref="DuplicateMessages"/>, those among messages the pipeline sent as new (not
    /// <see cref="BatchMessage.Known"/>): redeliveries only the grain could tell.</summary>
    [Id(5)] public int UnseenDuplicates { get; init; }

    public SeqRange[] MissingFor(string boot) => Missing?.GetValueOrDefault(boot) ?? [];
}
