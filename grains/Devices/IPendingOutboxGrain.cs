namespace Telemetry.Grains.Devices;

/// <summary>
/// The grains whose state holds undelivered events (key 0). An <see cref="IOutboxOwner"/> registers here before it
/// stores its first pending event, so that after a crash the service can wake exactly those grains to deliver, even
/// when nothing else would activate them (a device that never sends again). Only changes that produce events call
/// it: rare for one device, but a batch defect raises alerts on many devices at once, and those share its writes.
/// </summary>
[Alias("telemetry.pending-outbox")]
public interface IPendingOutboxGrain : IGrainWithIntegerKey
{
    [Alias("add")]
    Task AddAsync(GrainId owner);

    [Alias("remove")]
    Task RemoveAsync(GrainId owner);

    /// <summary>Asks every registered grain to deliver what it holds; returns how many were asked.</summary>
    [Alias("resume")]
    Task<int> ResumeAsync();
}
