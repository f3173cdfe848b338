using System.Collections.Concurrent;
using Orleans;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;

namespace Telemetry.GrainTests;

/// <summary>
/// Grain state that outlives a silo, as Redis or SQLite do in the service: one dictionary that every silo of the test
/// cluster writes to, holding Orleans' binary encoding (so a state read back is a copy, as from a real store), with
/// ETags checked on write.
/// </summary>
internal sealed class SharedGrainStorage(Serializer serializer, SharedGrainStorage.Rows rows) : IGrainStorage
{
    internal sealed class Rows
    {
        public ConcurrentDictionary<(string State, GrainId Grain), (string ETag, byte[] Data)> All { get; } = new();

        public int Writes;
    }

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (rows.All.TryGetValue((stateName, grainId), out var row))
        {
            grainState.State = serializer.Deserialize<T>(row.Data);
            grainState.ETag = row.ETag;
            grainState.RecordExists = true;
        }
        else
        {
            grainState.State = Activator.CreateInstance<T>();
            grainState.ETag = null;
            grainState.RecordExists = false;
        }

        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = (stateName, grainId);
        var etag = Guid.NewGuid().ToString("N");
        var data = serializer.SerializeToArray(grainState.State);
        lock (rows)
        {
            var stored = rows.All.TryGetValue(key, out var row) ? row.ETag : null;
            if (stored != grainState.ETag)
            {
                throw new InconsistentStateException($"{grainId} {stateName}: stored ETag {stored ?? "none"}, written with {grainState.ETag ?? "none"}");
            }

            rows.All[key] = (etag, data);
            rows.Writes++;
        }

        grainState.ETag = etag;
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        rows.All.TryRemove((stateName, grainId), out _);
        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = Activator.CreateInstance<T>();
        return Task.CompletedTask;
    }
}

/// <summary>A reminder table every silo shares and that outlives any of them, as Redis does in a cluster.</summary>
internal sealed class SharedReminderTable : IReminderTable
{
    private readonly ConcurrentDictionary<(GrainId Grain, string Name), ReminderEntry> _rows = new();

    public IReadOnlyCollection<ReminderEntry> Rows => _rows.Values.ToArray();

    public Task<ReminderTableData> ReadRows(GrainId grainId) =>
        Task.FromResult(new ReminderTableData(_rows.Values.Where(r => r.GrainId == grainId).Select(Copy)));

    public Task<ReminderTableData> ReadRows(uint begin, uint end) =>
        Task.FromResult(new ReminderTableData(_rows.Values.Where(r => InRange(r.GrainId.GetUniformHashCode(), begin, end)).Select(Copy)));

    public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName) =>
        Task.FromResult(_rows.TryGetValue((grainId, reminderName), out var row) ? Copy(row) : null);

    /// <summary>While above zero, each write of a row fails (a reminder store that is down) and counts it down.</summary>
    public int FailWrites;

    /// <summary>Writes refused by <see cref="FailWrites"/>.</summary>
    public int FailedWrites;

    public Task<string?> UpsertRow(ReminderEntry entry)
    {
        if (Interlocked.Decrement(ref FailWrites) >= 0)
        {
            Interlocked.Increment(ref FailedWrites);
            throw new InvalidOperationException("the reminder store is down (test)");
        }

        Interlocked.Exchange(ref FailWrites, 0);
        var stored = Copy(entry);
        stored.ETag = Guid.NewGuid().ToString("N");
        _rows[(entry.GrainId, entry.ReminderName)] = stored;
        return Task.FromResult<string?>(stored.ETag);
    }

    public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag)
    {
        var key = (grainId, reminderName);
        return Task.FromResult(_rows.TryGetValue(key, out var row) && row.ETag == eTag && _rows.TryRemove(key, out _));
    }

    public Task TestOnlyClearTable()
    {
        _rows.Clear();
        return Task.CompletedTask;
    }

    /// <summary>(begin, end], wrapping round when begin is not below end, as Orleans' ring ranges do.</summary>
    private static bool InRange(uint hash, uint begin, uint end) =>
        begin < end ? hash > begin && hash <= end : hash > begin || hash <= end;

    private static ReminderEntry Copy(ReminderEntry row) => new()
    {
        GrainId = row.GrainId,
        ReminderName = row.ReminderName,
        StartAt = row.StartAt,
        Period = row.Period,
        ETag = row.ETag,
    };
}
