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
    // Created when an event is put in and dropped once delivered (Trim): an outbox is empty almost always.
    [Id(0)] private List<AlertEvent>? _alerts;

    [Id(1)] private List<FailureReport>? _failures;

    /// <summary>Alert events in the order they happened; delivered in that order.</summary>
    public List<AlertEvent> Alerts { get => _alerts ??= []; set => _alerts = value; }

    /// <summary>Failure reports for the quality view (idempotent there: one failure per device and mode).</summary>
    public List<FailureReport> Failures { get => _failures ??= []; set => _failures = value; }

    /// <summary>Numbers the device's events so their ids are unique and stable.</summary>
    [Id(2)] public long EventCount { get; set; }

    /// <summary>Names this run of <see cref="EventCount"/>: set when the first event is numbered (or the first after
    /// an upgrade from a version without it). A twin whose stored state was lost numbers from 1 again under a new
    /// incarnation, so the fan-out, which remembers how far it got by number, neither skips nor confirms the new events
    /// as ones it delivered before.</summary>
    [Id(3)] public Guid Incarnation { get; set; }

    /// <summary>Whether any alert event waits, without creating the list.</summary>
    public bool HasAlerts => _alerts is { Count: > 0 };

    public bool IsEmpty => _alerts is not { Count: > 0 } && _failures is not { Count: > 0 };

    /// <summary>Lets go of emptied lists, so a twin whose events are all delivered holds none.</summary>
    public void Trim()
    {
        if (_alerts is { Count: 0 })
        {
            _alerts = null;
        }

        if (_failures is { Count: 0 })
        {
            _failures = null;
        }
    }
}
