using System.Collections.Concurrent;
using Telemetry.Grains.Ingest;
using Telemetry.Ingest.Pipeline;

namespace Telemetry.UnitTests;

/// <summary>The replies a partition sends its devices, recorded for assertions; safe to write from the worker's
/// threads while a test reads snapshots.</summary>
internal sealed class RecordingReplies : IDeviceReplies
{
    private readonly ConcurrentQueue<(string Device, MessageKey Ack)> _acks = new();
    private readonly ConcurrentQueue<ErrorReport> _errors = new();

    public List<(string Device, MessageKey Ack)> Acks => [.. _acks];

    public List<ErrorReport> Errors => [.. _errors];

    public void Ack(string deviceId, MessageKey ack) => _acks.Enqueue((deviceId, ack));

    public bool Error(in ErrorReport report)
    {
        _errors.Enqueue(report);
        return true;
    }
}
