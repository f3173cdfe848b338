using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Orleans;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;
using Telemetry.Grains.Devices;
using Telemetry.Ingest.Twins;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>The SQLite twin store's group commit: many writers share a transaction, yet each learns only its own
/// outcome, and nothing is reported written before it is committed.</summary>
public sealed class SqliteGrainStorageTests : IDisposable
{
    private const string StateName = "device";

    private static readonly Serializer Serializer = new ServiceCollection()
        .AddSerializer(b => b.AddAssembly(typeof(DeviceState).Assembly))
        .BuildServiceProvider()
        .GetRequiredService<Serializer>();

    private readonly string _directory = Directory.CreateTempSubdirectory("twins-store-").FullName;

    private string DbPath => Path.Combine(_directory, "twins.db");

    [Fact]
    public async Task ConcurrentWrites_AreAllCommitted_AndReadableAfterReopening()
    {
        const int devices = 300;
        using (var store = Open())
        {
            // Created, then updated twice with the ETag each write returned: inserts and updates in shared batches.
            var states = Enumerable.Range(0, devices).Select(i => new GrainState<DeviceState>(new DeviceState { Messages = i })).ToArray();
            for (var round = 0; round < 3; round++)
            {
                await Task.WhenAll(states.Select((s, i) =>
                {
                    s.State!.Readings = round;
                    return store.WriteStateAsync(StateName, Id(i), s);
                }));
            }

            Assert.All(states, s => Assert.True(s.RecordExists));
            Assert.InRange(store.Commits, 1, 3 * devices);
        }

        using var reopened = Open();
        for (var i = 0; i < devices; i++)
        {
            var read = new GrainState<DeviceState>();
            await reopened.ReadStateAsync(StateName, Id(i), read);
            Assert.True(read.RecordExists);
            Assert.Equal(i, read.State!.Messages);
            Assert.Equal(2, read.State.Readings);
        }
    }

    /// <summary>A device new to the store is activated without a read that finds nothing; every twin stored, before a
    /// restart or since, is still read.</summary>
    [Fact]
    public async Task TwinsNotInTheStore_AreNotQueried_AndEveryStoredTwinIsStillRead()
    {
        using (var store = Open())
        {
            for (var i = 0; i < 200; i++)
            {
                await store.WriteStateAsync(StateName, Id(i), new GrainState<DeviceState>(new DeviceState { Messages = i }));
            }
        }

        // And one written by a second start on the same file.
        using (var other = Open())
        {
            await other.WriteStateAsync(StateName, Id(500), new GrainState<DeviceState>(new DeviceState { Messages = 500 }));
        }

        using var reopened = Open();
        for (var i = 0; i < 200; i++)
        {
            Assert.Equal(i, (await ReadAsync(reopened, i)).Messages);
        }

        Assert.Equal(500, (await ReadAsync(reopened, 500)).Messages);
        var skippedBefore = reopened.ReadsSkipped;
        for (var i = 1000; i < 2000; i++)
        {
            Assert.False((await ReadStateAsync(reopened, i)).RecordExists);
        }

        // A false "maybe" costs a query that finds nothing; with 201 twins in a 2 MiB filter there is none to expect.
        Assert.Equal(1000, reopened.ReadsSkipped - skippedBefore);

        // Written now: read back by this store, and by the next one.
        await reopened.WriteStateAsync(StateName, Id(1500), new GrainState<DeviceState>(new DeviceState { Messages = 1500 }));
        Assert.Equal(1500, (await ReadAsync(reopened, 1500)).Messages);
        using var again = Open();
        Assert.Equal(1500, (await ReadAsync(again, 1500)).Messages);
    }

    [Fact]
    public void TheFilter_NeverSaysNoToAKeyItWasGiven()
    {
        var filter = new TwinFilter(1000);
        var random = new Random(15);
        var added = Enumerable.Range(0, 50_000).Select(_ => $"device/dev-{random.Next():x8}").ToList();
        foreach (var key in added)
        {
            filter.Add("twin", key);
        }

        Assert.All(added, key => Assert.True(filter.MightContain("twin", key)));
        // Past the 1,000 it was sized for the filter is at its 2 MiB floor: false "maybe"s stay rare.
        var absent = Enumerable.Range(0, 50_000).Count(i => filter.MightContain("twin", $"other/{i}"));
        Assert.InRange(absent, 0, 50);
        Assert.False(filter.MightContain("other-state", added[0]));
    }

    [Fact]
    public async Task AStaleETag_FailsOnlyItsOwnWrite()
    {
        using var store = Open();
        var first = new GrainState<DeviceState>(new DeviceState { Messages = 1 });
        await store.WriteStateAsync(StateName, Id(0), first);
        var stale = new GrainState<DeviceState>(new DeviceState { Messages = 99 }) { ETag = "not-the-stored-one", RecordExists = true };
        var others = Enumerable.Range(1, 50).Select(i => new GrainState<DeviceState>(new DeviceState { Messages = i })).ToArray();

        var staleWrite = store.WriteStateAsync(StateName, Id(0), stale);
        var otherWrites = others.Select((s, i) => store.WriteStateAsync(StateName, Id(i + 1), s)).ToArray();

        await Assert.ThrowsAsync<InconsistentStateException>(() => staleWrite);
        await Task.WhenAll(otherWrites);
        Assert.Equal("not-the-stored-one", stale.ETag);
        Assert.Equal(1, (await ReadAsync(store, 0)).Messages);
        for (var i = 1; i <= 50; i++)
        {
            Assert.Equal(i, (await ReadAsync(store, i)).Messages);
        }

        // A second activation creating a twin that exists (no ETag) conflicts the same way.
        await Assert.ThrowsAsync<InconsistentStateException>(() => store.WriteStateAsync(StateName, Id(1), new GrainState<DeviceState>(new DeviceState())));
    }

    [Fact]
    public async Task AFailingBatch_FailsEveryCallerInIt_StoresNothingOfIt_AndTheNextBatchCommits()
    {
        using var store = Open();
        var existing = new GrainState<DeviceState>(new DeviceState { Messages = 7 });
        await store.WriteStateAsync(StateName, Id(0), existing);

        // Another connection makes every write fail inside the transaction, as a full disk or an I/O error would.
        Execute("CREATE TRIGGER refuse BEFORE UPDATE ON grain_state BEGIN SELECT RAISE(ABORT, 'simulated disk error'); END;" +
                "CREATE TRIGGER refuse_new BEFORE INSERT ON grain_state BEGIN SELECT RAISE(ABORT, 'simulated disk error'); END;");
        var update = new GrainState<DeviceState>(new DeviceState { Messages = 8 }) { ETag = existing.ETag, RecordExists = true };
        var writes = new List<(GrainState<DeviceState> State, Task Write)> { (update, store.WriteStateAsync(StateName, Id(0), update)) };
        for (var i = 1; i <= 20; i++)
        {
            var state = new GrainState<DeviceState>(new DeviceState { Messages = 100 + i });
            writes.Add((state, store.WriteStateAsync(StateName, Id(i), state)));
        }

        foreach (var (state, write) in writes)
        {
            var error = await Assert.ThrowsAsync<SqliteException>(() => write);
            Assert.Contains("simulated disk error", error.Message, StringComparison.Ordinal);
        }

        Assert.Equal(existing.ETag, update.ETag);
        Assert.Equal(7, (await ReadAsync(store, 0)).Messages);
        Assert.False((await ReadStateAsync(store, 1)).RecordExists);

        Execute("DROP TRIGGER refuse; DROP TRIGGER refuse_new;");
        await store.WriteStateAsync(StateName, Id(0), update);
        await store.WriteStateAsync(StateName, Id(1), writes[1].State);
        Assert.Equal(8, (await ReadAsync(store, 0)).Messages);
        Assert.Equal(101, (await ReadAsync(store, 1)).Messages);
    }

    [Fact]
    public async Task WritesQueuedBeforeDispose_AreCommittedBeforeItReturns()
    {
        var states = Enumerable.Range(0, 100).Select(i => new GrainState<DeviceState>(new DeviceState { Messages = i })).ToArray();
        Task[] writes;
        using (var store = Open())
        {
            writes = [.. states.Select((s, i) => store.WriteStateAsync(StateName, Id(i), s))];
        }

        await Task.WhenAll(writes);
        using var reopened = Open();
        Assert.Equal(99, (await ReadAsync(reopened, 99)).Messages);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private SqliteGrainStorage Open() =>
        new(DbPath, Serializer, new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero)), NullLogger<SqliteGrainStorage>.Instance);

    private static GrainId Id(int i) => GrainId.Create("device", $"dev-{i:D5}");

    private static async Task<DeviceState> ReadAsync(SqliteGrainStorage store, int i) => (await ReadStateAsync(store, i)).State!;

    private static async Task<GrainState<DeviceState>> ReadStateAsync(SqliteGrainStorage store, int i)
    {
        var read = new GrainState<DeviceState>();
        await store.ReadStateAsync(StateName, Id(i), read);
        return read;
    }

    private void Execute(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={DbPath};Pooling=false");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
