using Microsoft.Data.Sqlite;

namespace Telemetry.Ingest.Webhooks;

/// <summary>An event waiting in a webhook's queue.</summary>
internal sealed record QueuedWebhookEvent(long Seq, int Webhook, string EventId, byte[] Body, long QueuedMs, int Attempts, long NextMs);

/// <summary>
/// The webhooks' durable queue: one SQLite file (<c>webhooks.db</c> under <c>Storage:DataDirectory</c>). An event
/// is written here, committed with <c>synchronous=FULL</c>, before the alert sink reports it delivered, so it
/// survives <c>kill -9</c> and a power cut. A row per (webhook, event id): queuing the same event again (a twin
/// retrying its outbox) is a no-op, so a webhook gets each event once unless its own delivery is retried. Rows are
/// delivered in insertion order per webhook; delivered rows keep only their id (for that dedupe) and are purged
/// after <see cref="KeepDelivered"/>; dead-lettered rows keep body and reason.
/// </summary>
internal sealed class WebhookQueue : IDisposable
{
    /// <summary>How long a delivered event's id is kept to recognise a late repeat from a twin's outbox.</summary>
    public static readonly TimeSpan KeepDelivered = TimeSpan.FromDays(7);

    // One connection, one operation at a time: the queue's rate is the alert rate, far below what SQLite does.
    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);

    public WebhookQueue(string path, DateTimeOffset now)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        _connection.Open();
        Execute("""
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = FULL;
            CREATE TABLE IF NOT EXISTS webhook_event (
                seq       INTEGER PRIMARY KEY AUTOINCREMENT,
                webhook   INTEGER NOT NULL,
                event_id  TEXT NOT NULL,
                body      BLOB NOT NULL,
                queued_ms INTEGER NOT NULL,
                attempts  INTEGER NOT NULL DEFAULT 0,
                next_ms   INTEGER NOT NULL,
                state     TEXT NOT NULL DEFAULT 'pending',
                done_ms   INTEGER,
                reason    TEXT,
                UNIQUE (webhook, event_id)
            );
            CREATE INDEX IF NOT EXISTS webhook_event_pending ON webhook_event (webhook, state, seq);
            """);
        using var purge = _connection.CreateCommand();
        purge.CommandText = "DELETE FROM webhook_event WHERE state = 'delivered' AND done_ms < $before";
        purge.Parameters.AddWithValue("$before", (now - KeepDelivered).ToUnixTimeMilliseconds());
        purge.ExecuteNonQuery();
    }

    /// <summary>Queues the event for each of <paramref name="webhooks"/> in one transaction; completes once committed.</summary>
    public async Task EnqueueAsync(IReadOnlyList<int> webhooks, string eventId, byte[] body, long nowMs, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await using var transaction = await _connection.BeginTransactionAsync(cancellationToken);
            foreach (var webhook in webhooks)
            {
                await using var insert = _connection.CreateCommand();
                insert.CommandText = """
                    INSERT OR IGNORE INTO webhook_event (webhook, event_id, body, queued_ms, next_ms)
                    VALUES ($webhook, $event, $body, $now, $now)
                    """;
                insert.Parameters.AddWithValue("$webhook", webhook);
                insert.Parameters.AddWithValue("$event", eventId);
                insert.Parameters.AddWithValue("$body", body);
                insert.Parameters.AddWithValue("$now", nowMs);
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The oldest pending event of <paramref name="webhook"/>, or null.</summary>
    public async Task<QueuedWebhookEvent?> NextAsync(int webhook, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await using var select = _connection.CreateCommand();
            select.CommandText = """
                SELECT seq, event_id, body, queued_ms, attempts, next_ms FROM webhook_event
                WHERE webhook = $webhook AND state = 'pending' ORDER BY seq LIMIT 1
                """;
            select.Parameters.AddWithValue("$webhook", webhook);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken)
                ? new QueuedWebhookEvent(reader.GetInt64(0), webhook, reader.GetString(1), (byte[])reader.GetValue(2), reader.GetInt64(3), reader.GetInt32(4), reader.GetInt64(5))
                : null;
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task DeliveredAsync(long seq, long nowMs, CancellationToken cancellationToken) =>
        UpdateAsync("UPDATE webhook_event SET state = 'delivered', body = x'', done_ms = $now, attempts = attempts + 1 WHERE seq = $seq", seq, nowMs, null, cancellationToken);

    public Task RetryAtAsync(long seq, long nextMs, CancellationToken cancellationToken) =>
        UpdateAsync("UPDATE webhook_event SET attempts = attempts + 1, next_ms = $now WHERE seq = $seq", seq, nextMs, null, cancellationToken);

    public Task DeadLetterAsync(long seq, long nowMs, string reason, CancellationToken cancellationToken) =>
        UpdateAsync("UPDATE webhook_event SET state = 'dead', done_ms = $now, reason = $reason WHERE seq = $seq", seq, nowMs, reason, cancellationToken);

    /// <summary>Pending and dead-lettered events of <paramref name="webhook"/>, for the stats.</summary>
    public (long Pending, long Dead) Counts(int webhook)
    {
        _gate.Wait();
        try
        {
            using var count = _connection.CreateCommand();
            count.CommandText = """
                SELECT COALESCE(SUM(state = 'pending'), 0), COALESCE(SUM(state = 'dead'), 0) FROM webhook_event WHERE webhook = $webhook
                """;
            count.Parameters.AddWithValue("$webhook", webhook);
            using var reader = count.ExecuteReader();
            reader.Read();
            return (reader.GetInt64(0), reader.GetInt64(1));
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Dead-lettered events of <paramref name="webhook"/>: event id and reason, oldest first.</summary>
    public IReadOnlyList<(string EventId, string Reason)> DeadLetters(int webhook)
    {
        _gate.Wait();
        try
        {
            using var select = _connection.CreateCommand();
            select.CommandText = "SELECT event_id, reason FROM webhook_event WHERE webhook = $webhook AND state = 'dead' ORDER BY seq";
            select.Parameters.AddWithValue("$webhook", webhook);
            using var reader = select.ExecuteReader();
            var list = new List<(string, string)>();
            while (reader.Read())
            {
                list.Add((reader.GetString(0), reader.GetString(1)));
            }

            return list;
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        _connection.Dispose();
        _gate.Dispose();
    }

    private async Task UpdateAsync(string sql, long seq, long ms, string? reason, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await using var update = _connection.CreateCommand();
            update.CommandText = sql;
            update.Parameters.AddWithValue("$seq", seq);
            update.Parameters.AddWithValue("$now", ms);
            if (reason is not null)
            {
                update.Parameters.AddWithValue("$reason", reason);
            }

            await update.ExecuteNonQueryAsync(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
