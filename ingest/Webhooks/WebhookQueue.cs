using Microsoft.Data.Sqlite;

namespace Telemetry.Ingest.Webhooks;

/// <summary>An event waiting in a webhook's queue.</summary>
internal sealed record QueuedWebhookEvent(long Seq, string Webhook, string EventId, string? Code, byte[] Body, long QueuedMs, int Attempts, long NextMs);

/// <summary>
/// The webhooks' durable queue: one SQLite file (<c>webhooks.db</c> under <c>Storage:DataDirectory</c>). An event
/// is written here, committed with <c>synchronous=FULL</c>, before the alert sink reports it delivered, so it
/// survives <c>kill -9</c> and a power cut. A row per (webhook identity, event id): queuing the same event again (a
/// twin retrying its outbox) is a no-op, so a webhook gets each event once unless its own delivery is retried. Rows
/// are delivered in insertion order per webhook. A row names its webhook by <see cref="WebhookOptions.Identity"/>,
/// never by its position in the configuration, so removing or reordering webhooks cannot hand one customer's events
/// to another. Delivered rows keep only their id (for that dedupe) and are purged after <see cref="KeepDelivered"/>;
/// dead-lettered rows keep body and reason and are purged after <see cref="KeepDeadLettered"/>.
/// </summary>
internal sealed class WebhookQueue : IDisposable
{
    /// <summary>How long a delivered event's id is kept to recognise a late repeat from a twin's outbox.</summary>
    public static readonly TimeSpan KeepDelivered = TimeSpan.FromDays(7);

    /// <summary>How long a dead-lettered event (body and reason) is kept for an operator to inspect or replay.</summary>
    public static readonly TimeSpan KeepDeadLettered = TimeSpan.FromDays(30);

    /// <summary>Reason of the pending rows found in a webhooks.db of the index-keyed schema (before version 2).</summary>
    public const string ChangedBeforeUpgrade = "configuration changed before upgrade";

    // PRAGMA user_version of the current schema. 0 (no table, or the first schema keyed by the webhook's index).
    private const int SchemaVersion = 2;

    // One connection, one operation at a time: the queue's rate is the alert rate, far below what SQLite does.
    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly List<PendingEvent> _pending = [];

    public WebhookQueue(string path, DateTimeOffset now)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        _connection.Open();
        Execute("""
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = FULL;
            """);
        MigratedFromIndexKeyed = Migrate(now.ToUnixTimeMilliseconds());
        Purge(now);
    }

    /// <summary>Pending rows of an index-keyed webhooks.db dead-lettered when this queue opened it (0 otherwise).</summary>
    public long MigratedFromIndexKeyed { get; }

    /// <summary>
    /// Queues the event for each of <paramref name="webhooks"/> (identities); completes once committed. Events queued
    /// together share a transaction: whoever takes the queue next commits every event waiting by then, so an alert
    /// storm costs a few synchronous commits, not one per alert. A failed commit fails every event in it.
    /// </summary>
    public async Task EnqueueAsync(IReadOnlyList<string> webhooks, string eventId, string code, byte[] body, long nowMs, CancellationToken cancellationToken)
    {
        var mine = new PendingEvent(webhooks, eventId, code, body, nowMs);
        lock (_pending)
        {
            _pending.Add(mine);
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (!mine.Committed.Task.IsCompleted)
            {
                await CommitPendingAsync();
            }
        }
        finally
        {
            _gate.Release();
        }

        await mine.Committed.Task;
    }

    /// <summary>Transactions that queued events (for tests: fewer than events means they were shared).</summary>
    internal int EnqueueCommits { get; private set; }

    /// <summary>Awaited with the queue held, before the waiting events are taken; tests hold it to let events gather.</summary>
    internal Func<Task>? BeforeEnqueueCommit { get; set; }

    /// <summary>Under the gate: commits every waiting event in one transaction and completes its callers.</summary>
    private async Task CommitPendingAsync()
    {
        if (BeforeEnqueueCommit is { } hold)
        {
            await hold();
        }

        List<PendingEvent> events;
        lock (_pending)
        {
            events = [.. _pending];
            _pending.Clear();
        }

        try
        {
            // Not cancelled by one caller: the transaction is every waiting caller's.
            await using (var transaction = await _connection.BeginTransactionAsync(CancellationToken.None))
            {
                foreach (var queued in events)
                {
                    foreach (var webhook in queued.Webhooks)
                    {
                        await using var insert = _connection.CreateCommand();
                        insert.CommandText = """
                            INSERT OR IGNORE INTO webhook_event (webhook, event_id, code, body, queued_ms, next_ms)
                            VALUES ($webhook, $event, $code, $body, $now, $now)
                            """;
                        insert.Parameters.AddWithValue("$webhook", webhook);
                        insert.Parameters.AddWithValue("$event", queued.EventId);
                        insert.Parameters.AddWithValue("$code", queued.Code);
                        insert.Parameters.AddWithValue("$body", queued.Body);
                        insert.Parameters.AddWithValue("$now", queued.NowMs);
                        await insert.ExecuteNonQueryAsync(CancellationToken.None);
                    }
                }

                await transaction.CommitAsync(CancellationToken.None);
            }

            EnqueueCommits++;
            foreach (var queued in events)
            {
                queued.Committed.TrySetResult();
            }
        }
        catch (Exception e)
        {
            foreach (var queued in events)
            {
                queued.Committed.TrySetException(e);
            }
        }
    }

    /// <summary>An event waiting for the transaction that queues it.</summary>
    private sealed record PendingEvent(IReadOnlyList<string> Webhooks, string EventId, string Code, byte[] Body, long NowMs)
    {
        public TaskCompletionSource Committed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>The oldest pending event of <paramref name="webhook"/>, or null.</summary>
    public async Task<QueuedWebhookEvent?> NextAsync(string webhook, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await using var select = _connection.CreateCommand();
            select.CommandText = """
                SELECT seq, event_id, code, body, queued_ms, attempts, next_ms FROM webhook_event
                WHERE webhook = $webhook AND state = 'pending' ORDER BY seq LIMIT 1
                """;
            select.Parameters.AddWithValue("$webhook", webhook);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken)
                ? new QueuedWebhookEvent(reader.GetInt64(0), webhook, reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                    (byte[])reader.GetValue(3), reader.GetInt64(4), reader.GetInt32(5), reader.GetInt64(6))
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

    /// <summary>
    /// Dead-letters, with <paramref name="reason"/>, every pending event whose webhook identity is not in
    /// <paramref name="configured"/>, in one transaction. Returns how many per identity.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, long>> DeadLetterPendingExceptAsync(IReadOnlyCollection<string> configured, long nowMs, string reason, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var orphans = new Dictionary<string, long>(StringComparer.Ordinal);
            await using (var select = _connection.CreateCommand())
            {
                select.CommandText = "SELECT webhook, COUNT(*) FROM webhook_event WHERE state = 'pending' GROUP BY webhook";
                await using var reader = await select.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    var webhook = reader.GetString(0);
                    if (!configured.Contains(webhook))
                    {
                        orphans[webhook] = reader.GetInt64(1);
                    }
                }
            }

            if (orphans.Count == 0)
            {
                return orphans;
            }

            await using var transaction = await _connection.BeginTransactionAsync(cancellationToken);
            foreach (var webhook in orphans.Keys)
            {
                await using var update = _connection.CreateCommand();
                update.CommandText = "UPDATE webhook_event SET state = 'dead', done_ms = $now, reason = $reason WHERE webhook = $webhook AND state = 'pending'";
                update.Parameters.AddWithValue("$webhook", webhook);
                update.Parameters.AddWithValue("$now", nowMs);
                update.Parameters.AddWithValue("$reason", reason);
                await update.ExecuteNonQueryAsync(cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            return orphans;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Pending and dead-lettered events of <paramref name="webhook"/>, for the stats.</summary>
    public (long Pending, long Dead) Counts(string webhook)
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

    /// <summary>Dead-lettered events held for webhook identities not in <paramref name="configured"/>, for the stats.</summary>
    public long DeadExcept(IReadOnlyCollection<string> configured)
    {
        _gate.Wait();
        try
        {
            using var select = _connection.CreateCommand();
            select.CommandText = "SELECT webhook, COUNT(*) FROM webhook_event WHERE state = 'dead' GROUP BY webhook";
            using var reader = select.ExecuteReader();
            var held = 0L;
            while (reader.Read())
            {
                if (!configured.Contains(reader.GetString(0)))
                {
                    held += reader.GetInt64(1);
                }
            }

            return held;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Dead-lettered events of <paramref name="webhook"/>: event id and reason, oldest first.</summary>
    public IReadOnlyList<(string EventId, string Reason)> DeadLetters(string webhook)
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

    /// <summary>
    /// Deletes delivered rows older than <see cref="KeepDelivered"/> and dead-lettered rows older than
    /// <see cref="KeepDeadLettered"/> (by when they were delivered or given up). Returns how many of each.
    /// </summary>
    public (int Delivered, int DeadLettered) Purge(DateTimeOffset now)
    {
        _gate.Wait();
        try
        {
            return (Delete("delivered", now - KeepDelivered), Delete("dead", now - KeepDeadLettered));
        }
        finally
        {
            _gate.Release();
        }

        int Delete(string state, DateTimeOffset before)
        {
            using var purge = _connection.CreateCommand();
            purge.CommandText = "DELETE FROM webhook_event WHERE state = $state AND done_ms < $before";
            purge.Parameters.AddWithValue("$state", state);
            purge.Parameters.AddWithValue("$before", before.ToUnixTimeMilliseconds());
            return purge.ExecuteNonQuery();
        }
    }

    public void Dispose()
    {
        _connection.Dispose();
        _gate.Dispose();
    }

    /// <summary>
    /// Creates the schema, or upgrades the first one, where a row named its webhook only by its index in
    /// <c>Alerts:Webhooks</c>. Such a row cannot be tied to a webhook safely: the file does not record which URL had
    /// that index when the event was queued, and the configuration may have changed since (the defect this schema
    /// fixes). So its pending rows are dead-lettered with <see cref="ChangedBeforeUpgrade"/>, body kept, never sent;
    /// delivered and dead rows are kept until their purge. All in one transaction: a crash leaves the old file.
    /// </summary>
    private long Migrate(long nowMs)
    {
        using var transaction = _connection.BeginTransaction();
        var version = Scalar("PRAGMA user_version");
        var legacy = version < SchemaVersion && Scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'webhook_event'") > 0;
        if (legacy)
        {
            Run("""
                DROP INDEX IF EXISTS webhook_event_pending;
                ALTER TABLE webhook_event RENAME TO webhook_event_v1;
                """);
        }

        Run("""
            CREATE TABLE IF NOT EXISTS webhook_event (
                seq       INTEGER PRIMARY KEY AUTOINCREMENT,
                webhook   TEXT NOT NULL,
                event_id  TEXT NOT NULL,
                code      TEXT,
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

        var migrated = 0L;
        if (legacy)
        {
            migrated = Scalar("SELECT COUNT(*) FROM webhook_event_v1 WHERE state = 'pending'");
            using var copy = _connection.CreateCommand();
            copy.Transaction = transaction;
            // 'index:N' cannot equal an identity of today (a Name has no ':', a derived one starts with 'url:').
            copy.CommandText = """
                INSERT INTO webhook_event (seq, webhook, event_id, code, body, queued_ms, attempts, next_ms, state, done_ms, reason)
                SELECT seq, 'index:' || webhook, event_id, NULL, body, queued_ms, attempts, next_ms,
                       CASE state WHEN 'pending' THEN 'dead' ELSE state END,
                       CASE state WHEN 'pending' THEN $now ELSE done_ms END,
                       CASE state WHEN 'pending' THEN $reason ELSE reason END
                FROM webhook_event_v1 ORDER BY seq
                """;
            copy.Parameters.AddWithValue("$now", nowMs);
            copy.Parameters.AddWithValue("$reason", ChangedBeforeUpgrade);
            copy.ExecuteNonQuery();
            Run("DROP TABLE webhook_event_v1");
        }

        Run(FormattableString.Invariant($"PRAGMA user_version = {SchemaVersion}"));
        transaction.Commit();
        return migrated;

        long Scalar(string sql)
        {
            using var command = _connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }

        void Run(string sql)
        {
            using var command = _connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            command.ExecuteNonQuery();
        }
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
