namespace Telemetry.Grains.Ingest;

/// <summary>An inclusive run of seqs, <c>[From, To]</c>: handled ones beyond a gap, or missing ones told to a device.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.seq-range")]
public readonly record struct SeqRange([property: Id(0)] uint From, [property: Id(1)] uint To);
