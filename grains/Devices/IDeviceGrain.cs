using Telemetry.Grains.Ingest;

namespace Telemetry.Grains.Devices;

/// <summary>
/// The twin of one device, keyed by its device id. It owns everything the service knows about the device:
/// identity from the birth message, running totals, the wear estimate, message progress for acks and
/// dedupe, and the state of its maintenance alerts. Calls are not reentrant, so a device's batches apply in
/// the order the pipeline sends them.
/// </summary>
[Alias("telemetry.device")]
public interface IDeviceGrain : IGrainWithStringKey, IOutboxOwner
{
    /// <summary>
    /// Applies one round of the device's uplink: its birth if one came, then its telemetry. Skips messages already applied, folds the readings into
    /// totals and wear, raises or clears alerts, and returns the acks the device may now receive.
    /// </summary>
    [Alias("ingest")]
    Task<IngestResult> IngestAsync(TelemetryBatch batch);

    /// <summary>The twin, or null for a device the service has never heard from.</summary>
    [Alias("snapshot")]
    Task<DeviceSnapshot?> GetSnapshotAsync();

    /// <summary>What the pipeline needs to know of a device before it handles its messages: the last birth (for
    /// the tags of stored readings, and to skip a birth sent again unchanged) and the metric names the device has
    /// sent (for the cap on names outside the catalogue). Asked once per device and process.</summary>
    [Alias("ingest-profile")]
    Task<IngestProfile> GetIngestProfileAsync();

    /// <summary>One of the device's alerts with its history, or null.</summary>
    [Alias("alert")]
    Task<Alerts.AlertView?> GetAlertAsync(string alertId);

    /// <summary>Acknowledges or resolves an alert on behalf of <paramref name="actor"/>; publishes the change.</summary>
    [Alias("change-alert")]
    Task<Alerts.AlertChange> ChangeAlertAsync(string alertId, Alerts.AlertState target, string actor, string? note);

    /// <summary>The alert fan-out delivered this device's outbox events up to number <paramref name="upTo"/> (the
    /// suffix of their event ids) of the outbox <paramref name="incarnation"/>: the twin drops them from its outbox. A
    /// twin whose outbox has another incarnation (its stored state was lost, and it numbers its events from 1 again)
    /// ignores it.</summary>
    [Alias("delivered")]
    Task ConfirmDeliveredAsync(Guid incarnation, long upTo);

    /// <summary>Whether the activation that handed events to the alert fan-out under <paramref name="handover"/> is
    /// still the twin's current one. When it is not, the twin has been activated again since (perhaps on another
    /// silo) and handed the same stored events over itself, and the fan-out drops its older copy of them.</summary>
    [Alias("owns-handover"), Orleans.Concurrency.AlwaysInterleave]
    Task<bool> OwnsHandoverAsync(Guid handover);

    /// <summary>
    /// After-sales replaced a part (<c>shoe</c>, <c>insole</c>, <c>battery</c>, <c>band</c>): the wear it carried
    /// starts again from new, and the alerts about it are resolved. Returns the ids of the resolved alerts, or
    /// null for a device the service has never heard from.
    /// </summary>
    [Alias("replaced")]
    Task<string[]?> PartReplacedAsync(string part, string actor, string? note);
}
