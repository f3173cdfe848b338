using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Orleans.Runtime;

namespace Telemetry.Grains.Devices;

[GenerateSerializer, Alias("telemetry.pending-outbox-state")]
public sealed class PendingOutboxState
{
    [Id(0)] public HashSet<GrainId> Owners { get; set; } = [];
}

/// <summary>
/// One grain for the whole service, so registrations that arrive together (a batch defect raises alerts on many
/// devices at once) must not queue one storage write each: the grain is reentrant, makes each change at once on
/// its single-threaded turn, and answers it when the first write that started after the change has completed.
/// Writes never overlap; each stores the whole set, so one write covers every change made before it began.
/// </summary>
[GrainType("pending-outbox")]
[Reentrant]
internal sealed partial class PendingOutboxGrain(
    [PersistentState("pending-outbox", DeviceGrain.StorageName)] IPersistentState<PendingOutboxState> pending,
    ILogger<PendingOutboxGrain> logger) : Grain, IPendingOutboxGrain
{
    /// <summary>Callers whose change the next write will store; null when none waits.</summary>
    private TaskCompletionSource? _waiting;

    private bool _writing;

    /// <summary>The last write failed, so the stored set may lack changes the set in memory has.</summary>
    private bool _unsaved;

    public Task AddAsync(GrainId owner) => pending.State.Owners.Add(owner) || _unsaved ? SaveAsync() : Task.CompletedTask;

    public Task RemoveAsync(GrainId owner) => pending.State.Owners.Remove(owner) || _unsaved ? SaveAsync() : Task.CompletedTask;

    /// <summary>Completes once a write that began after this call has stored the set; fails if that write failed.</summary>
    private Task SaveAsync()
    {
        var waiting = _waiting ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_writing)
        {
            _writing = true;
            _ = WriteAsync();
        }

        return waiting.Task;
    }

    /// <summary>Writes until no caller waits; one write at a time, each for everyone who came before it began.</summary>
    private async Task WriteAsync()
    {
        while (_waiting is { } callers)
        {
            _waiting = null;
            try
            {
                await pending.WriteStateAsync();
                _unsaved = false;
                callers.SetResult();
            }
            catch (Exception e)
            {
                _unsaved = true;
                callers.SetException(e);
            }
        }

        _writing = false;
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
