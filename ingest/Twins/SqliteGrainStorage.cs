using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Orleans.Serialization;
using Orleans.Storage;

namespace Telemetry.Ingest.Twins;

/// <summary>
/// Orleans grain storage in one SQLite file (<c>twins.db</c> under the data directory), so twins survive a
/// restart with nothing installed. A row per (state name, grain id) holds the state in Orleans' own
/// version-tolerant binary format and an ETag for optimistic concurrency. WAL journaling with
/// <c>synchronous=NORMAL</c> keeps every committed write across a process crash (not across a power cut:
/// the WAL is synced at checkpoints, not at every commit).
/// <para>
/// Writes are group-committed. Each caller serializes its state on its own turn (the grain cannot change it
/// meanwhile) and queues the bytes; one writer, on one connection kept open with its statements prepared, takes
/// everything queued (at most <see cref="MaxBatch"/>) into one transaction, and completes each caller only after
/// COMMIT. A busy fleet therefore pays one transaction per batch instead of one per twin, and no write waits for a
/// timer: a lone write commits at once. The ETag is still checked per row: a row whose ETag no longer matches
/// changes nothing, and only its caller gets <see cref="InconsistentStateException"/>. Any other error (a full
/// disk, an I/O error) rolls the whole batch back and fails every caller in it; the writer then reopens its
/// connection for the next batch.
/// </para>
/// </summary>
internal sealed partial class SqliteGrainStorage : IGrainStorage, IDisposable
{
    /// <summary>Rows per transaction: enough to absorb a round of every partition, small enough that a batch
    /// (and so the wait of its first caller) stays at a few milliseconds.</summary>
    internal const int MaxBatch = 1024;

    private const string InsertSql =
        "INSERT INTO grain_state (state_name, grain_id, etag, data, updated_at) VALUES ($name, $id, $etag, $data, $at) ON CONFLICT DO NOTHING";

    private const string UpdateSql =
        "UPDATE grain_state SET etag = $etag, data = $data, updated_at = $at WHERE state_name = $name AND grain_id = $id AND etag = $expected";

    private readonly string _connectionString;
    private readonly Serializer _serializer;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<PendingWrite> _writes = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;
    private readonly TwinFilter _known;
    private long _readsSkipped;

    /// <summary>The writer's connection and statements; touched only by the writer loop (and by Dispose after it ended).</summary>
    private WriterConnection? _connection;

    public SqliteGrainStorage(string path, Serializer serializer, TimeProvider time, ILogger<SqliteGrainStorage> logger)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, DefaultTimeout = 5 }.ToString();
        _serializer = serializer;
        _time = time;
        _logger = logger;
        using (var connection = new SqliteConnection(_connectionString))
        {
            connection.Open();
            Execute(connection, """
                PRAGMA journal_mode = WAL;
                CREATE TABLE IF NOT EXISTS grain_state (
                    state_name TEXT NOT NULL,
                    grain_id   TEXT NOT NULL,
                    etag       TEXT NOT NULL,
                    data       BLOB NOT NULL,
                    updated_at TEXT NOT NULL,
                    PRIMARY KEY (state_name, grain_id)
                ) WITHOUT ROWID;
                """);
            _known = LoadFilter(connection);
        }

        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>Transactions committed so far (for tests and diagnostics: fewer than writes means grouping worked).</summary>
    internal long Commits { get; private set; }

    /// <summary>Reads answered "no such twin" by the filter, without a query.</summary>
    internal long ReadsSkipped => Interlocked.Read(ref _readsSkipped);

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var id = grainId.ToString();
        if (!_known.MightContain(stateName, id))
        {
            // A device new to the store (a fleet coming back for the first time): nothing to read.
            Interlocked.Increment(ref _readsSkipped);
            NotFound(grainState);
            return;
        }

        // Pooled connections, no PRAGMAs: a WAL reader never waits for the writer and sees only committed batches,
        // which are the only ones whose callers have been told "written".
        await using var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT etag, data FROM grain_state WHERE state_name = $name AND grain_id = $id";
        command.Parameters.AddWithValue("$name", stateName);
        command.Parameters.AddWithValue("$id", id);
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync())
        {
            NotFound(grainState);
            return;
        }

        grainState.ETag = reader.GetString(0);
        grainState.State = _serializer.Deserialize<T>((byte[])reader.GetValue(1));
        grainState.RecordExists = true;
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        // Serialized here, on the grain's turn, so the writer never reads a state its grain might be changing.
        var write = new PendingWrite(stateName, grainId.ToString(), grainState.ETag, Guid.NewGuid().ToString("N"), _serializer.SerializeToArray(grainState.State));
        // Before the write can commit, so that no read after it is told the twin does not exist.
        _known.Add(write.StateName, write.GrainId);
        if (!_writes.Writer.TryWrite(write))
        {
            throw new ObjectDisposedException(nameof(SqliteGrainStorage), "The twin store is shutting down.");
        }

        if (!await write.Completion.Task)
        {
            throw new InconsistentStateException($"The stored state of {grainId} changed under it (expected ETag {grainState.ETag ?? "none"}).");
        }

        grainState.ETag = write.NewETag;
        grainState.RecordExists = true;
    }

    private static void NotFound<T>(IGrainState<T> grainState)
    {
        grainState.State = Activator.CreateInstance<T>();
        grainState.ETag = null;
        grainState.RecordExists = false;
    }

    /// <summary>Every twin in the table, read once at start.</summary>
    private static TwinFilter LoadFilter(SqliteConnection connection)
    {
        using var count = connection.CreateCommand();
        count.CommandText = "SELECT count(*) FROM grain_state";
        var rows = (long)count.ExecuteScalar()!;
        // Room for the fleet to double and more before false "maybe"s become common (they only cost a read).
        var filter = new TwinFilter(Math.Max(1_000_000, rows * 2));
        using var all = connection.CreateCommand();
        all.CommandText = "SELECT state_name, grain_id FROM grain_state";
        using var reader = all.ExecuteReader();
        while (reader.Read())
        {
            filter.Add(reader.GetString(0), reader.GetString(1));
        }

        return filter;
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        // Rare (no grain clears today): its own transaction, which SQLite orders with the writer's batches.
        await using var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM grain_state WHERE state_name = $name AND grain_id = $id";
        command.Parameters.AddWithValue("$name", stateName);
        command.Parameters.AddWithValue("$id", grainId.ToString());
        await command.ExecuteNonQueryAsync();
        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = Activator.CreateInstance<T>();
    }

    /// <summary>Stops taking writes, lets the writer commit what is queued, and closes its connection.</summary>
    public void Dispose()
    {
        _writes.Writer.TryComplete();
        if (!_writer.Wait(TimeSpan.FromSeconds(10)))
        {
            LogWriterStuck(_logger);
            return;
        }

        _connection?.Dispose();
        _connection = null;
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<PendingWrite>(MaxBatch);
        while (await _writes.Reader.WaitToReadAsync())
        {
            while (batch.Count < MaxBatch && _writes.Reader.TryRead(out var write))
            {
                batch.Add(write);
            }

            Commit(batch);
            batch.Clear();
        }
    }

    /// <summary>Writes <paramref name="batch"/> in one transaction and completes its callers. Never throws.</summary>
    private void Commit(List<PendingWrite> batch)
    {
        var written = new bool[batch.Count];
        try
        {
            var connection = _connection ??= new WriterConnection(_connectionString);
            var at = _time.GetUtcNow().ToString("O");
            using (var transaction = connection.Connection.BeginTransaction())
            {
                for (var i = 0; i < batch.Count; i++)
                {
                    written[i] = connection.Write(transaction, batch[i], at);
                }

                transaction.Commit();
            }

            Commits++;
        }
        catch (Exception e)
        {
            // SQLite may already have rolled the transaction back (a full disk, an I/O error); either way nothing of
            // this batch is stored, so every caller fails and its grain retries from its stored state. A fresh
            // connection for the next batch: this one may be in any state.
            LogBatchFailed(_logger, e, batch.Count);
            _connection?.Dispose();
            _connection = null;
            foreach (var write in batch)
            {
                write.Completion.TrySetException(e);
            }

            return;
        }

        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Completion.TrySetResult(written[i]);
        }
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>One queued write: the serialized state, the ETag it expects (null: no row yet) and the one it sets.</summary>
    private sealed class PendingWrite(string stateName, string grainId, string? expectedETag, string newETag, byte[] data)
    {
        public string StateName { get; } = stateName;

        public string GrainId { get; } = grainId;

        public string? ExpectedETag { get; } = expectedETag;

        public string NewETag { get; } = newETag;

        public byte[] Data { get; } = data;

        /// <summary>True once committed, false when the ETag did not match; an exception when the batch failed.
        /// Continuations run on the thread pool, never inline on the writer (which would stall every batch).</summary>
        public TaskCompletionSource<bool> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>The writer's connection: opened once with its PRAGMAs, the two statements prepared once and rebound per row.</summary>
    private sealed class WriterConnection : IDisposable
    {
        private readonly SqliteCommand _insert;
        private readonly SqliteCommand _update;

        public WriterConnection(string connectionString)
        {
            Connection = new SqliteConnection(connectionString);
            try
            {
                Connection.Open();
                Execute(Connection, "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
                _insert = Prepare(InsertSql);
                _update = Prepare(UpdateSql);
                _update.Parameters.Add("$expected", SqliteType.Text);
            }
            catch
            {
                Connection.Dispose();
                throw;
            }
        }

        public SqliteConnection Connection { get; }

        /// <summary>One row inside <paramref name="transaction"/>; false when its ETag did not match (nothing changed).
        /// A statement that matches no row changes nothing, so a conflict needs no savepoint to undo.</summary>
        public bool Write(SqliteTransaction transaction, PendingWrite write, string at)
        {
            var command = write.ExpectedETag is null ? _insert : _update;
            command.Transaction = transaction;
            var parameters = command.Parameters;
            parameters["$name"].Value = write.StateName;
            parameters["$id"].Value = write.GrainId;
            parameters["$etag"].Value = write.NewETag;
            parameters["$data"].Value = write.Data;
            parameters["$at"].Value = at;
            if (write.ExpectedETag is { } expected)
            {
                parameters["$expected"].Value = expected;
            }

            return command.ExecuteNonQuery() == 1;
        }

        public void Dispose()
        {
            _insert.Dispose();
            _update.Dispose();
            Connection.Dispose();
        }

        private SqliteCommand Prepare(string sql)
        {
            var command = Connection.CreateCommand();
            command.CommandText = sql;
            command.Parameters.Add("$name", SqliteType.Text);
            command.Parameters.Add("$id", SqliteType.Text);
            command.Parameters.Add("$etag", SqliteType.Text);
            command.Parameters.Add("$data", SqliteType.Blob);
            command.Parameters.Add("$at", SqliteType.Text);
            return command;
        }
    }
}
