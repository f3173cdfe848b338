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
/// devices at once) must not queue one storage write each. The grain is reentrant: it makes each change at once on
/// its single-threaded turn and answers it when the first write that began after the change has stored it, or at
/// once when the change was already stored. Writes never overlap, and each stores a copy of the whole set, so one
/// write covers every change made before it began and the set may change while a provider serializes the copy.
/// </summary>
[GrainType("pending-outbox")]
[Reentrant]
internal sealed partial class PendingOutboxGrain(
    [PersistentState("pending-outbox", DeviceGrain.StorageName)] IPersistentState<PendingOutboxState> pending,
    ILogger<PendingOutboxGrain> logger) : Grain, IPendingOutboxGrain
{
    /// <summary>The set as it is now; <c>pending.State</c> holds the copy being, or last, written.</summary>
    private HashSet<GrainId>? _owners;

    /// <summary>Callers whose change the next write will store; null when none waits.</summary>
    private TaskCompletionSource? _waiting;

    private bool _writing;

    /// <summary>Counts the changes to the set in memory.</summary>
    private long _version;

    /// <summary>The last change a successful write has stored.</summary>
    private long _stored;

    private HashSet<GrainId> Owners => _owners ??= [.. pending.State.Owners];

    public Task AddAsync(GrainId owner)
    {
        var changed = Owners.Add(owner);
        return SaveAsync(changed);
    }

    public Task RemoveAsync(GrainId owner)
    {
        var changed = Owners.Remove(owner);
        return SaveAsync(changed);
    }

    public Task<int> ResumeAsync()
    {
        // A copy: each owner woken here may leave the set (another turn of this reentrant grain) while this one runs.
        var owners = Owners.ToArray();
        // Not awaited one by one: each grain delivers on its own; one that fails keeps its events and its timer.
        foreach (var owner in owners)
        {
            GrainFactory.GetGrain<IOutboxOwner>(owner).DeliverPendingAsync().Ignore();
        }

        if (owners.Length > 0)
        {
            LogResumed(logger, owners.Length);
        }

        return Task.FromResult(owners.Length);
    }

    /// <summary>
    /// Completes once a write that began after this call has stored the set, and fails if that write failed. A call
    /// that changed nothing completes at once only when every change so far is stored: the same registration again,
    /// while the write that holds it is under way or after it failed, waits for a write like the first.
    /// </summary>
    private Task SaveAsync(bool changed)
    {
        if (changed)
        {
            _version++;
        }
        else if (_stored == _version)
        {
            return Task.CompletedTask;
        }

        var waiting = _waiting ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_writing)
        {
            _writing = true;
            // Never faults: each write's outcome goes to its callers.
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
            var version = _version;
            pending.State.Owners = [.. Owners];
            try
            {
                await pending.WriteStateAsync();
                _stored = Math.Max(_stored, version);
                callers.SetResult();
            }
            catch (Exception e)
            {
                callers.SetException(e);
            }
        }

        _writing = false;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Resuming delivery of pending events held by {Count} grains")]
    private static partial void LogResumed(ILogger logger, int count);
}
