using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Telemetry.Grains.Devices;

[GenerateSerializer, Alias("telemetry.pending-outbox-state")]
public sealed class PendingOutboxState
{
    [Id(0)] public HashSet<GrainId> Owners { get; set; } = [];
}

[GrainType("pending-outbox")]
internal sealed partial class PendingOutboxGrain(
    [PersistentState("pending-outbox", DeviceGrain.StorageName)] IPersistentState<PendingOutboxState> pending,
    ILogger<PendingOutboxGrain> logger) : Grain, IPendingOutboxGrain
{
    public async Task AddAsync(GrainId owner)
    {
        if (pending.State.Owners.Add(owner))
        {
            await pending.WriteStateAsync();
        }
    }

    public async Task RemoveAsync(GrainId owner)
    {
        if (pending.State.Owners.Remove(owner))
        {
            await pending.WriteStateAsync();
        }
    }

    public async Task<int> ResumeAsync()
    {
        var owners = pending.State.Owners.ToArray();
        // Not awaited one by one: each grain delivers on its own; one that fails keeps its events and its timer. A
        // grain that finds its outbox empty removes itself from this set, which runs here only after this call has
        // returned (this grain is not reentrant), so take a copy first.
        foreach (var owner in owners)
        {
            GrainFactory.GetGrain<IOutboxOwner>(owner).DeliverPendingAsync().Ignore();
        }

        if (owners.Length > 0)
        {
            LogResumed(logger, owners.Length);
        }

        return owners.Length;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Resuming delivery of pending events held by {Count} grains")]
    private static partial void LogResumed(ILogger logger, int count);
}
