using Telemetry.Grains.Ingest;

namespace Telemetry.Ingest.Pipeline;

/// <summary>What the pipeline tells devices. Neither call may block: acks coalesce, errors are queued.</summary>
internal interface IDeviceReplies
{
    /// <summary>Records the newest ack of a device's boot; it is published within the ack interval.</summary>
    void Ack(string deviceId, MessageKey ack);

    /// <summary>As <see cref="Ack(string, MessageKey)"/>, telling the device which seqs below the highest it sent are
    /// still missing (empty when none).</summary>
    void Ack(string deviceId, MessageKey ack, SeqRange[] missing) => Ack(deviceId, ack);

    /// <summary>Queues an error report. Returns false when the queue is full and the report was dropped.</summary>
    bool Error(in ErrorReport report);
}
