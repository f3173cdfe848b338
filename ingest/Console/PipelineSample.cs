namespace Telemetry.Ingest.Console;

/// <summary>Rates between two snapshots of the pipeline's counters, for the pipeline page's chart.</summary>
internal sealed record PipelineSample(DateTime At, double MessagesPerSecond, double ReadingsPerSecond, double RejectionsPerSecond)
{
    public static PipelineSample Between(Api.IngestStats before, Api.IngestStats after, DateTimeOffset beforeAt, DateTimeOffset afterAt)
    {
        var seconds = Math.Max((afterAt - beforeAt).TotalSeconds, 0.001);
        return new PipelineSample(
            afterAt.UtcDateTime,
            (after.Messages - before.Messages) / seconds,
            (after.Readings - before.Readings) / seconds,
            (after.Rejections.Values.Sum() - before.Rejections.Values.Sum()) / seconds);
    }
}
