using Microsoft.Data.Sqlite;
using Orleans.Serialization;
using Orleans.Storage;

namespace Telemetry.Ingest.Twins;

/// <summary>
/// Orleans grain storage in one SQLite file (<c>twins.db</c> under the data directory), so twins survive a
/// restart with nothing installed. A row per (state name, grain id) holds the state in Orleans' own
/// version-tolerant binary format and an ETag for optimistic concurrency. WAL journaling with
/// <c>synchronous=NORMAL</c> keeps every committed write across a process crash.
/// </summary>
internal sealed class SqliteGrainStorage : IGrainStorage
{
    private readonly string _connectionString;
    private readonly Serializer _serializer;

    public SqliteGrainStorage(string path, Serializer serializer)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true }.ToString();
        _serializer = serializer;
        using var connection = Open();
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
    }

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await using var connection = Open();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT etag, data FROM grain_state WHERE state_name = $name AND grain_id = $id";
        command.Parameters.AddWithValue("$name", stateName);
        command.Parameters.AddWithValue("$id", grainId.ToString());
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync())
        {
            grainState.State = Activator.CreateInstance<T>();
            grainState.ETag = null;
            grainState.RecordExists = false;
            return;
        }

        grainState.ETag = reader.GetString(0);
        grainState.State = _serializer.Deserialize<T>((byte[])reader.GetValue(1));
        grainState.RecordExists = true;
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var etag = Guid.NewGuid().ToString("N");
        await using var connection = Open();
        await using var command = connection.CreateCommand();
        command.CommandText = grainState.ETag is null
            ? "INSERT INTO grain_state (state_name, grain_id, etag, data, updated_at) VALUES ($name, $id, $etag, $data, $at) ON CONFLICT DO NOTHING"
            : "UPDATE grain_state SET etag = $etag, data = $data, updated_at = $at WHERE state_name = $name AND grain_id = $id AND etag = $expected";
        command.Parameters.AddWithValue("$name", stateName);
        command.Parameters.AddWithValue("$id", grainId.ToString());
        command.Parameters.AddWithValue("$etag", etag);
        command.Parameters.AddWithValue("$data", _serializer.SerializeToArray(grainState.State));
        command.Parameters.AddWithValue("$at", DateTimeOffset.UtcNow.ToString("O"));
        command.Parameters.AddWithValue("$expected", (object?)grainState.ETag ?? DBNull.Value);
        if (await command.ExecuteNonQueryAsync() != 1)
        {
            throw new InconsistentStateException($"The stored state of {grainId} changed under it (expected ETag {grainState.ETag ?? "none"}).");
        }

        grainState.ETag = etag;
        grainState.RecordExists = true;
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await using var connection = Open();
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM grain_state WHERE state_name = $name AND grain_id = $id";
        command.Parameters.AddWithValue("$name", stateName);
        command.Parameters.AddWithValue("$id", grainId.ToString());
        await command.ExecuteNonQueryAsync();
        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = Activator.CreateInstance<T>();
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        Execute(connection, "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
        return connection;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
