namespace Telemetry.Grains.Devices;

/// <summary>
/// The devices whose twin holds undelivered events (key 0). A device grain registers here before it stores its
/// first pending event, so that after a crash the service can wake exactly those twins to deliver, even when the
/// device itself never sends again. Only rounds that produce events call it, and alerts are rare.
/// </summary>
[Alias("telemetry.pending-outbox")]
public interface IPendingOutboxGrain : IGrainWithIntegerKey
{
    [Alias("add")]
    Task AddAsync(string device);

    [Alias("remove")]
    Task RemoveAsync(string device);

    /// <summary>Asks every registered device to deliver what it holds; returns how many were asked.</summary>
    [Alias("resume")]
    Task<int> ResumeAsync();
}
