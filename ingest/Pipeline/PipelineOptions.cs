namespace Telemetry.Ingest.Pipeline;

/// <summary>Sizing of the ingest pipeline. Section <c>Pipeline</c>.</summary>
public sealed class PipelineOptions
{
    public const string SectionName = "Pipeline";

    /// <summary>
    /// Independent partitions; a device always maps to the same one, which keeps its messages in order.
    /// Default: the number of cores (at least 2), so decoding uses every core while grain calls are awaited.
    /// </summary>
    public int Partitions { get; set; } = Math.Max(2, Environment.ProcessorCount);

    /// <summary>
    /// Messages queued per partition before the MQTT consumer is slowed down. Larger absorbs bursts; smaller
    /// bounds memory (worst case capacity × 64 KiB per partition) and redelivery after a crash. Default 1024.
    /// </summary>
    public int ChannelCapacity { get; set; } = 1024;

    /// <summary>Messages a partition takes into one round (one grain call per device per round). Default 512.</summary>
    public int MaxRoundMessages { get; set; } = 512;

    /// <summary>Attempts of a failing grain call before the round's messages are left unacknowledged. Default 3.</summary>
    public int GrainAttempts { get; set; } = 3;
}
