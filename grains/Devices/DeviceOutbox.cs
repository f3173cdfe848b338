using Telemetry.Grains.Alerts;
using Telemetry.Grains.Quality;

namespace Telemetry.Grains.Devices;

/// <summary>
/// Events a state change produced and that have not been delivered yet. They are stored in the twin with the
/// change itself (one write), delivered after it, and removed once delivered, so a failed delivery or a crash
/// between the write and the delivery never loses one: the grain retries until each gets through.
/// </summary>
[GenerateSerializer, Alias("telemetry.device-outbox")]
public sealed class DeviceOutbox
{
    /// <summary>Alert events in the order they happened; delivered in that order.</summary>
    [Id(0)] public List<AlertEvent> Alerts { get; set; } = [];

    /// <summary>Failure reports for the quality view (idempotent there: one failure per device and mode).</summary>
    [Id(1)] public List<FailureReport> Failures { get; set; } = [];

    /// <summary>Numbers the device's events so their ids are unique and stable.</summary>
    [Id(2)] public long EventCount { get; set; }

    public bool IsEmpty => Alerts.Count == 0 && Failures.Count == 0;
}
