using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Telemetry.Grains.Devices;

[GenerateSerializer, Alias("telemetry.pending-outbox-state")]
public sealed class PendingOutboxState
{
    [Id(0)] public HashSet<string> Devices { get; set; } = new(StringComparer.Ordinal);
}

[GrainType("pending-outbox")]
internal sealed partial class PendingOutboxGrain(
    [PersistentState("pending-outbox", DeviceGrain.StorageName)] IPersistentState<PendingOutboxState> pending,
    ILogger<PendingOutboxGrain> logger) : Grain, IPendingOutboxGrain
{
    public async Task AddAsync(string device)
    {
        if (pending.State.Devices.Add(device))
        {
            await pending.WriteStateAsync();
        }
    }

    public async Task RemoveAsync(string device)
    {
        if (pending.State.Devices.Remove(device))
        {
            await pending.WriteStateAsync();
        }
    }

    public async Task<int> ResumeAsync()
    {
        var devices = pending.State.Devices.ToArray();
        // Not awaited one by one: each twin delivers on its own; a twin that fails keeps its events and its timer.
        // A device grain that finds its outbox empty removes itself from this set, which interleaves here only after
        // this call has returned (the grain is not reentrant), so take a copy first.
        foreach (var device in devices)
        {
            GrainFactory.GetGrain<IDeviceGrain>(device).DeliverPendingAsync().Ignore();
        }

        if (devices.Length > 0)
        {
            LogResumed(logger, devices.Length);
        }

        return devices.Length;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Resuming delivery of pending events for {Count} devices")]
    private static partial void LogResumed(ILogger logger, int count);
}
