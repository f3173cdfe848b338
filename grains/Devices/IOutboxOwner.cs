namespace Telemetry.Grains.Devices;

/// <summary>A grain that stores events with its state and delivers them after (device twins, model quality views).</summary>
[Alias("telemetry.outbox-owner")]
public interface IOutboxOwner : IGrain
{
    /// <summary>Delivers the events the grain still holds (after a crash or failed deliveries). Returns true when
    /// none is left.</summary>
    [Alias("deliver-pending")]
    Task<bool> DeliverPendingAsync();
}
