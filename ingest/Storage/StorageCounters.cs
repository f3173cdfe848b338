using System.Diagnostics.Metrics;

namespace Telemetry.Ingest.Storage;

/// <summary>What the time-series store did with every line, counted (meter <c>Telemetry.Ingest</c>).</summary>
internal sealed class StorageCounters
{
    private long _written;
    private long _spilled;
    private long _replayed;
    private long _deadLettered;
    private long _retries;
    private long _splits;
    private long _failures;

    public StorageCounters(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Pipeline.IngestCounters.MeterName);
        meter.CreateObservableCounter("telemetry.storage.lines_written", () => Written, description: "Lines the store accepted directly");
        meter.CreateObservableCounter("telemetry.storage.lines_spilled", () => Spilled, description: "Lines written to the spill file while the database was unavailable");
        meter.CreateObservableCounter("telemetry.storage.lines_replayed", () => Replayed, description: "Spilled lines later written to the database");
        meter.CreateObservableCounter("telemetry.storage.lines_dead_lettered", () => DeadLettered, description: "Lines the database refused as invalid");
        meter.CreateObservableCounter("telemetry.storage.retries", () => Retries, description: "Write attempts repeated after a transient failure");
        meter.CreateObservableCounter("telemetry.storage.failures", () => Failures, description: "Writes that could be made durable nowhere (their messages stay unacknowledged)");
        meter.CreateObservableGauge("telemetry.storage.spill_backlog", () => SpillBacklogBytes, unit: "By", description: "Bytes waiting in the spill file to be replayed");
    }

    public long Written => Volatile.Read(ref _written);

    public long Spilled => Volatile.Read(ref _spilled);

    public long Replayed => Volatile.Read(ref _replayed);

    public long DeadLettered => Volatile.Read(ref _deadLettered);

    public long Retries => Volatile.Read(ref _retries);

    /// <summary>Requests split in two after a 400 or 413.</summary>
    public long Splits => Volatile.Read(ref _splits);

    /// <summary>Writes that could be made durable nowhere (the disk failed too), failed cursor or dead-letter
    /// writes, and unexpected failures of the writer loop; the messages concerned stay unacked. The day-file store
    /// counts one per failed append or flush, however many writes that flush would have covered.</summary>
    public long Failures => Volatile.Read(ref _failures);

    /// <summary>Lines waiting in the spill file.</summary>
    public long SpillBacklogBytes { get; set; }

    public void AddWritten(long lines) => Interlocked.Add(ref _written, lines);

    public void AddSpilled(long lines) => Interlocked.Add(ref _spilled, lines);

    public void AddReplayed(long lines) => Interlocked.Add(ref _replayed, lines);

    public void AddDeadLettered(long lines) => Interlocked.Add(ref _deadLettered, lines);

    public void Retry() => Interlocked.Increment(ref _retries);

    public void Split() => Interlocked.Increment(ref _splits);

    public void Failed() => Interlocked.Increment(ref _failures);
}
