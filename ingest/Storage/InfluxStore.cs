using System.Buffers;
using System.Threading.Channels;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Telemetry.Ingest.Hosting;

namespace Telemetry.Ingest.Storage;

/// <summary>
/// Writes readings to InfluxDB with nothing lost.
/// <list type="bullet">
/// <item>Group commit: whatever the partitions handed in while the previous requests were in flight goes out
/// together, up to <c>Influx:MaxBatchLines</c> per request and up to <c>Influx:Writers</c> requests at once when
/// more than a batch is waiting. A line never waits for a timer, so the 1 s limit on batching is met by
/// construction.</item>
/// <item>Network errors, timeouts, 429 and 5xx are retried with exponential backoff and jitter, honouring
/// <c>Retry-After</c>. 413 splits the request in two; 400 (1.x) and 422 (2.x) split it until the bad lines
/// are alone, store the rest and dead-letter those with the server's message. Repeats are safe: a point
/// written twice is stored once. 404 creates the database (v1, <c>Influx:CreateDatabase</c>) and retries;
/// 401 and 403 are kept and retried like an outage, and <c>/health</c> says the credentials are refused.</item>
/// <item>When the retries run out the batch goes to the spill file, and so does everything after it, in
/// order, until the spill has been replayed. Replay splits and dead-letters exactly as above, so a poison
/// line never holds up the lines behind it.</item>
/// </list>
/// A write completes (and its messages are acknowledged) only once it is in InfluxDB, in the spill file or in
/// the dead letters. Nothing about InfluxDB is awaited at start-up: a hung or absent server makes the store
/// Degraded (spilling), never stops the host. Memory is bounded by <c>Storage:QueueCapacity</c> pending writes
/// plus the fixed group and replay buffers, however long the outage.
/// </summary>
internal sealed partial class InfluxStore : BackgroundService, IReadingStore
{
    /// <summary>The component name on <c>/health</c>.</summary>
    public const string HealthComponent = "store";

    private readonly InfluxClient _client;
    private readonly InfluxOptions _options;
    private readonly StorageCounters _counters;
    private readonly DeadLetters _deadLetters;
    private readonly ComponentHealth _health;
    private readonly TimeProvider _time;
    private readonly ILogger<InfluxStore> _logger;
    private readonly Channel<PendingWrite> _queue;
    private readonly SpillFile _spill;
    private readonly string _directory;
    private readonly Lock _healthGate = new();

    // One group per concurrent request (Influx:Writers); the first also serves spilling. Failure side effects of
    // concurrent requests (spill appends, dead letters) are serialised by _sideEffects.
    private readonly WriteGroup[] _groups;
    private readonly Lock _sideEffects = new();
    private readonly byte[] _replayBuffer = new byte[8 << 20];
    private TimeSpan _replayDelay;
    private DateTimeOffset _nextReplay;
    private DateTimeOffset? _unavailableSince;
    private bool _databaseChecked;
    private Task<bool>? _queueWait;

    // Why the store is unhealthy, by cause; each is cleared by the next success of its kind.
    private string? _diskFault;
    private string? _deadLetterFault;
    private string? _refusal;
    private string? _loopFault;

    public InfluxStore(
        HttpClient http,
        IOptions<InfluxOptions> options,
        IOptions<StorageOptions> storage,
        StorageCounters counters,
        ComponentHealth health,
        TimeProvider time,
        ILogger<InfluxStore> logger)
        : this(http, options, storage, counters, health, time, logger, new SpillFile(storage.Value.DataDirectory))
    {
    }

    /// <summary>For tests: a spill file whose disk can be made to fail.</summary>
    internal InfluxStore(
        HttpClient http,
        IOptions<InfluxOptions> options,
        IOptions<StorageOptions> storage,
        StorageCounters counters,
        ComponentHealth health,
        TimeProvider time,
        ILogger<InfluxStore> logger,
        SpillFile spill)
    {
        _options = options.Value;
        _client = new InfluxClient(http, _options, time);
        _counters = counters;
        _health = health;
        _time = time;
        _logger = logger;
        _directory = storage.Value.DataDirectory;
        _deadLetters = new DeadLetters(_directory, time);
        _spill = spill;
        _queue = Channel.CreateBounded<PendingWrite>(new BoundedChannelOptions(storage.Value.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
        _replayDelay = _options.RetryDelay;
        _counters.SpillBacklogBytes = _spill.Pending;
        _groups = [.. Enumerable.Range(0, Math.Max(1, _options.Writers)).Select(_ => new WriteGroup())];
    }

    /// <summary>True while writes go to the spill file rather than to InfluxDB.</summary>
    public bool Spilling => _spill.HasPending;

    public async ValueTask<bool> StoreAsync(ReadOnlyMemory<byte> lines, int lineCount, CancellationToken cancellationToken)
    {
        if (lineCount == 0)
        {
            return true;
        }

        var pending = new PendingWrite(lines, lineCount);
        await _queue.Writer.WriteAsync(pending, cancellationToken);
        return await pending.Done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Returns at once: the database is created (and the spill replayed) by the loop, so no state of
    /// InfluxDB can hold up or stop the host.</summary>
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (_spill.HasPending)
        {
            LogSpillFound(_logger, _spill.Pending);
            _unavailableSince = _time.GetUtcNow();
            ReportHealth();
        }

        return base.StartAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _spill.Dispose();
        base.Dispose();
    }

    /// <summary>
    /// Runs the writer loop until the host stops. An unexpected exception does not end it: it is logged,
    /// counted and shown on <c>/health</c>, the writes in hand are completed unstored (their messages stay
    /// unacknowledged and come again), and the loop resumes after a pause.
    /// </summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Let StartAsync return before the first request, whatever the HTTP stack does synchronously.
        await Task.Yield();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    await RunAsync(stoppingToken);
                    return;
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e)
                {
                    LogLoopFailed(_logger, e);
                    _counters.Failed();
                    _loopFault = $"the InfluxDB writer failed ({e.GetType().Name}: {e.Message}); retrying";
                    ReportHealth();

                    // Queue first: a caller that sees its write fail may write again at once, and that
                    // write should wait for the loop, not fail with this one.
                    FailQueued();
                    CompleteAll(false);
                    await Task.Delay(_options.MaxRetryDelay, _time, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            // Anything still queued is not acknowledged; its messages are redelivered after the restart.
            CompleteAll(false);
            FailQueued();
        }
    }

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        if (!_databaseChecked)
        {
            // Once per start, off the start-up path and within RequestTimeout; a 404 on write asks again.
            _databaseChecked = true;
            await EnsureDatabaseAsync(stoppingToken);
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            if (!_spill.HasPending)
            {
                if (!await WaitForWritesAsync(stoppingToken))
                {
                    return;
                }

                var groups = 0;
                while (groups < _groups.Length && Gather(_groups[groups]))
                {
                    groups++;
                }

                if (groups == 1)
                {
                    await SendGroupAsync(_groups[0], stoppingToken);
                }
                else
                {
                    await Task.WhenAll(_groups.Take(groups).Select(g => SendGroupAsync(g, stoppingToken)));
                }

                Recovered();
                continue;
            }

            // Outage or catching up: new writes join the spill so order is kept, and the spill is
            // replayed a chunk at a time in between.
            while (Gather(_groups[0]))
            {
                SpillGroup();
            }

            if (_time.GetUtcNow() >= _nextReplay)
            {
                await ReplayChunkAsync(stoppingToken);
                Recovered();
                continue;
            }

            using var wake = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            var sleep = Task.Delay(_nextReplay - _time.GetUtcNow(), _time, wake.Token);
            await Task.WhenAny(WaitForWritesAsync(stoppingToken), sleep);
            await wake.CancelAsync();
            stoppingToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>
    /// Completes when a write is queued (true) or the queue is closed (false). One wait is kept across calls,
    /// so waits abandoned for a timer or a replay request do not pile up in the channel.
    /// </summary>
    private Task<bool> WaitForWritesAsync(CancellationToken stoppingToken)
    {
        if (_queueWait is null || _queueWait.IsCompleted)
        {
            _queueWait = _queue.Reader.WaitToReadAsync(stoppingToken).AsTask();
        }

        return _queueWait;
    }

    /// <summary>
    /// Appends new writes to the spill file while <paramref name="request"/> (a replay request) is in flight,
    /// so that an InfluxDB that is slow or hung holds callers up for a disk append, not for
    /// <c>Influx:RequestTimeout</c>. Only this thread touches the spill file: the request works on the replay
    /// buffer, and its outcome is booked after it completes.
    /// </summary>
    private async Task SpillWhileAsync(Task request, CancellationToken stoppingToken)
    {
        while (!request.IsCompleted)
        {
            var writes = WaitForWritesAsync(stoppingToken);
            if (await Task.WhenAny(request, writes) != writes)
            {
                return;
            }

            if (!await writes)
            {
                await request;
                return;
            }

            while (Gather(_groups[0]))
            {
                SpillGroup();
            }
        }
    }

    /// <summary>Takes queued writes into the group, until the group holds a batch's worth (sending chunks it).</summary>
    private bool Gather(WriteGroup group)
    {
        group.Body.Clear();
        group.Members.Clear();
        var lines = 0;
        while (lines < _options.MaxBatchLines && _queue.Reader.TryRead(out var next))
        {
            group.Body.Write(next.Lines.Span);
            group.Members.Add(next);
            lines += next.LineCount;
        }

        return group.Members.Count > 0;
    }

    private async Task SendGroupAsync(WriteGroup group, CancellationToken cancellationToken)
    {
        var body = group.Body.WrittenMemory;
        var offset = 0;
        while (offset < body.Length)
        {
            var (length, lines) = Chunk(body.Span[offset..], _options.MaxBatchLines);
            var tally = new SendTally();
            var handled = await SendAsync(body.Slice(offset, length), lines, _options.Attempts, tally, cancellationToken);
            _counters.AddWritten(CountLines(body.Span.Slice(offset, handled)) - tally.DeadLettered);
            if (handled < length)
            {
                // The database is unavailable: what is not yet stored goes to the spill file, with the rest of
                // the group behind it.
                offset += handled;
                var rest = body[offset..];
                var restLines = CountLines(rest.Span);
                if (!TryAppendSpill(rest.Span, restLines))
                {
                    Complete(group, false);
                    return;
                }

                LogSpilling(_logger, restLines);
                _nextReplay = _time.GetUtcNow() + _replayDelay;
                ReportHealth();
                break;
            }

            offset += length;
        }

        Complete(group, true);
    }

    private void SpillGroup()
    {
        var body = _groups[0].Body.WrittenMemory.Span;
        Complete(_groups[0], TryAppendSpill(body, CountLines(body)));
        ReportHealth();
    }

    private bool TryAppendSpill(ReadOnlySpan<byte> lines, int count)
    {
        lock (_sideEffects)
        {
            return TryAppendSpillLocked(lines, count);
        }
    }

    private bool TryAppendSpillLocked(ReadOnlySpan<byte> lines, int count)
    {
        try
        {
            _spill.Append(lines);
            _counters.AddSpilled(count);
            _counters.SpillBacklogBytes = _spill.Pending;
            _diskFault = null;
            return true;
        }
        catch (Exception e) when (IsDiskFailure(e))
        {
            LogSpillFailed(_logger, e, _directory);
            _counters.Failed();
            _diskFault = $"cannot write the InfluxDB spill file under {_directory}: {e.Message}";
            ReportHealth();
            return false;
        }
    }

    private async Task ReplayChunkAsync(CancellationToken cancellationToken)
    {
        int bytes;
        int lines;
        try
        {
            (bytes, lines) = _spill.ReadChunk(_replayBuffer, _options.MaxBatchLines);
        }
        catch (InvalidDataException e)
        {
            // A line longer than the replay buffer: no InfluxDB takes such a request, so it is dead-lettered
            // rather than left to block every line behind it.
            SkipLongLine(e.Message);
            return;
        }
        catch (Exception e) when (IsDiskFailure(e))
        {
            LogSpillReadFailed(_logger, e, _directory);
            _counters.Failed();
            _diskFault = $"cannot read the InfluxDB spill file under {_directory}: {e.Message}";
            ReportHealth();
            _nextReplay = _time.GetUtcNow() + _options.MaxRetryDelay;
            return;
        }

        if (bytes == 0)
        {
            // The file was shorter than recorded; nothing is left to replay.
            AdvanceSpill(0, 0);
            return;
        }

        var tally = new SendTally();
        var sending = SendAsync(_replayBuffer.AsMemory(0, bytes), lines, attempts: 1, tally, cancellationToken);
        await SpillWhileAsync(sending, cancellationToken);
        var handled = await sending;
        if (handled > 0)
        {
            // Replayed counts what reached InfluxDB; dead letters are counted on their own, so that
            // spilled = replayed + dead-lettered from the spill once it is empty.
            AdvanceSpill(handled, CountLines(_replayBuffer.AsSpan(0, handled)) - tally.DeadLettered);
        }

        if (handled == bytes)
        {
            _replayDelay = _options.RetryDelay;
            return;
        }

        _nextReplay = _time.GetUtcNow() + Jitter(_replayDelay);
        _replayDelay = TimeSpan.FromTicks(Math.Min(_replayDelay.Ticks * 2, _options.MaxRetryDelay.Ticks));
    }

    private void SkipLongLine(string problem)
    {
        long length;
        try
        {
            length = _deadLetters.Add(_spill.CopyLineAtCursor, problem);
        }
        catch (Exception e) when (IsDiskFailure(e))
        {
            DeadLetterFailed(e);
            _nextReplay = _time.GetUtcNow() + _options.MaxRetryDelay;
            return;
        }

        _counters.AddDeadLettered(1);
        LogDeadLettered(_logger, problem);
        _deadLetterFault = null;
        AdvanceSpill(length, 0);
    }

    private void AdvanceSpill(long bytes, long lines)
    {
        // Count first: whoever sees the spill file empty must also see the lines counted as replayed.
        _counters.AddReplayed(lines);
        try
        {
            _spill.Advance(bytes);
            _diskFault = null;
        }
        catch (Exception e) when (IsDiskFailure(e))
        {
            // The position is kept in memory, so replay goes on; only a restart would repeat lines.
            LogCursorFailed(_logger, e, _directory);
            _counters.Failed();
            _diskFault = $"cannot record the InfluxDB replay position under {_directory}: {e.Message}";
        }

        _counters.SpillBacklogBytes = _spill.Pending;
        if (!_spill.HasPending)
        {
            LogCaughtUp(_logger);
            _unavailableSince = null;
        }

        ReportHealth();
    }

    /// <summary>
    /// Sends lines until they are stored or dead-lettered, or the attempts are used up on transient failures.
    /// Returns the length of the leading part that is stored or dead-lettered (all of it on success); the rest
    /// is not known to be stored and must be kept.
    /// </summary>
    private async Task<int> SendAsync(ReadOnlyMemory<byte> lines, int count, int attempts, SendTally tally, CancellationToken cancellationToken)
    {
        var delay = _options.RetryDelay;
        var createdDatabase = false;
        for (var attempt = 1; ; attempt++)
        {
            var response = await _client.WriteAsync(lines, cancellationToken);
            switch (response.Outcome)
            {
                case WriteOutcome.Written:
                    Accepted();
                    return lines.Length;

                case WriteOutcome.BadRequest or WriteOutcome.TooLarge when count <= 1:
                    Accepted();
                    try
                    {
                        lock (_sideEffects)
                        {
                            _deadLetters.Add(lines.Span, response.Message);
                        }
                    }
                    catch (Exception e) when (IsDiskFailure(e))
                    {
                        // Not stored anywhere: the line stays where it is (queue or spill) and comes again.
                        DeadLetterFailed(e);
                        return 0;
                    }

                    tally.DeadLettered++;
                    _counters.AddDeadLettered(1);
                    LogDeadLettered(_logger, response.Message);
                    _deadLetterFault = null;
                    return lines.Length;

                case WriteOutcome.BadRequest or WriteOutcome.TooLarge:
                    // Halve until the bad lines are alone. InfluxDB 1.x may have stored part of the request
                    // already; sending those lines again stores them once.
                    Accepted();
                    _counters.Split();
                    var (firstLength, _) = Chunk(lines.Span, count / 2);
                    var first = await SendAsync(lines[..firstLength], count / 2, attempts, tally, cancellationToken);
                    return first < firstLength
                        ? first
                        : firstLength + await SendAsync(lines[firstLength..], count - (count / 2), attempts, tally, cancellationToken);

                case WriteOutcome.NotFound:
                    if (_client.CreatesDatabase && !createdDatabase)
                    {
                        // Dropped, or not created at start-up (InfluxDB was down): create it and retry at once.
                        createdDatabase = true;
                        if (await EnsureDatabaseAsync(cancellationToken))
                        {
                            attempt--;
                            continue;
                        }
                    }

                    Refused($"InfluxDB has no database or bucket to write to: {response.Message}");
                    break;

                case WriteOutcome.Refused:
                    Refused($"InfluxDB refuses our credentials: {response.Message}");
                    break;
            }

            Unavailable();
            if (attempt >= attempts)
            {
                LogWriteFailed(_logger, attempt, response.Message);
                return 0;
            }

            _counters.Retry();
            var wait = response.RetryAfter is { } after && after > TimeSpan.Zero
                ? TimeSpan.FromTicks(Math.Min(after.Ticks, _options.MaxRetryDelay.Ticks * 6))
                : Jitter(delay);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxRetryDelay.Ticks));
            await Task.Delay(wait, _time, cancellationToken);
        }
    }

    private async Task<bool> EnsureDatabaseAsync(CancellationToken cancellationToken)
    {
        var response = await _client.EnsureDatabaseAsync(cancellationToken);
        if (response.Outcome == WriteOutcome.Written)
        {
            return true;
        }

        // A user allowed to write but not to create databases is refused here while its writes go through,
        // so only a write's own answer (404, 401) makes the store unhealthy.
        LogDatabaseNotCreated(_logger, _options.Url, _options.Database, response.Message);
        if (response.Outcome == WriteOutcome.Transient)
        {
            Unavailable();
        }

        return false;
    }

    /// <summary>InfluxDB answered a write on its merits: it is up, and our credentials and database are fine.</summary>
    private void Accepted()
    {
        var wasUnavailable = _unavailableSince is not null && !_spill.HasPending;
        if (_refusal is not null || wasUnavailable)
        {
            _refusal = null;
            _unavailableSince = _spill.HasPending ? _unavailableSince : null;
            ReportHealth();
        }
    }

    /// <summary>InfluxDB did not answer in time (or at all): Degraded from now until it answers again and the
    /// spill file is replayed.</summary>
    private void Unavailable()
    {
        if (_unavailableSince is null)
        {
            _unavailableSince = _time.GetUtcNow();
            ReportHealth();
        }
    }

    private void Refused(string reason)
    {
        if (_refusal != reason)
        {
            LogRefused(_logger, reason);
            _refusal = reason;
            ReportHealth();
        }
    }

    private void DeadLetterFailed(Exception e)
    {
        LogDeadLetterFailed(_logger, e, _deadLetters.Directory);
        _counters.Failed();
        _deadLetterFault = $"cannot write dead letters under {_deadLetters.Directory}: {e.Message}";
        ReportHealth();
    }

    /// <summary>A pass of the loop went through: an earlier failure of the loop itself is over.</summary>
    private void Recovered()
    {
        if (_loopFault is not null)
        {
            _loopFault = null;
            ReportHealth();
        }
    }

    /// <summary>One entry for the store on <c>/health</c>: Unhealthy with every fault that loses us writes,
    /// else Degraded while spilling, else nothing.</summary>
    private void ReportHealth()
    {
        // A replay request reports from its own thread while the loop spills: under the lock each report
        // reads every cause as it is now, so the last report standing is a current one.
        lock (_healthGate)
        {
            ReportHealthLocked();
        }
    }

    private void ReportHealthLocked()
    {
        string[] faults = [.. new[] { _loopFault, _diskFault, _deadLetterFault, _refusal }.OfType<string>()];
        if (faults.Length > 0)
        {
            _health.Report(HealthComponent, HealthStatus.Unhealthy, string.Join("; ", faults));
        }
        else if (_spill.HasPending)
        {
            var since = _unavailableSince ?? _time.GetUtcNow();
            _health.Report(HealthComponent, HealthStatus.Degraded,
                $"InfluxDB unavailable since {since:O}; {_spill.Pending} bytes spilled, replaying");
        }
        else if (_unavailableSince is { } since)
        {
            _health.Report(HealthComponent, HealthStatus.Degraded, $"InfluxDB unavailable since {since:O}; retrying");
        }
        else
        {
            _health.Clear(HealthComponent);
        }
    }

    private static void Complete(WriteGroup group, bool stored)
    {
        foreach (var member in group.Members)
        {
            member.Done.TrySetResult(stored);
        }

        group.Members.Clear();
    }

    private void CompleteAll(bool stored)
    {
        foreach (var group in _groups)
        {
            Complete(group, stored);
        }
    }

    private void FailQueued()
    {
        while (_queue.Reader.TryRead(out var left))
        {
            left.Done.TrySetResult(false);
        }
    }

    /// <summary>What a full disk, a missing or read-only directory, or a path taken by something else throws.</summary>
    internal static bool IsDiskFailure(Exception e) =>
        e is IOException or UnauthorizedAccessException or NotSupportedException or System.Security.SecurityException;

    /// <summary>Full jitter on the upper half: between d/2 and d, so retries of many writers spread out.</summary>
    private static TimeSpan Jitter(TimeSpan delay) =>
        TimeSpan.FromTicks((delay.Ticks / 2) + Random.Shared.NextInt64(Math.Max(1, delay.Ticks / 2)));

    /// <summary>The length in bytes of the first <paramref name="maxLines"/> lines.</summary>
    internal static (int Length, int Lines) Chunk(ReadOnlySpan<byte> lines, int maxLines)
    {
        var count = 0;
        var position = 0;
        while (count < maxLines)
        {
            var newline = lines[position..].IndexOf((byte)'\n');
            if (newline < 0)
            {
                return (lines.Length, count + (position < lines.Length ? 1 : 0));
            }

            position += newline + 1;
            count++;
        }

        return (position, count);
    }

    internal static int CountLines(ReadOnlySpan<byte> lines) => lines.Count((byte)'\n');

    /// <summary>The writes one request carries. Gather stops adding writes once MaxBatchLines is reached, so the body
    /// grows at most to one batch plus one write; it is cleared, not reallocated, between groups.</summary>
    private sealed class WriteGroup
    {
        public ArrayBufferWriter<byte> Body { get; } = new(1 << 20);

        public List<PendingWrite> Members { get; } = [];
    }

    /// <summary>What one send (and the halves it split into) dead-lettered, apart from concurrent sends.</summary>
    private sealed class SendTally
    {
        public int DeadLettered { get; set; }
    }

    private sealed class PendingWrite(ReadOnlyMemory<byte> lines, int lineCount)
    {
        public ReadOnlyMemory<byte> Lines { get; } = lines;

        public int LineCount { get; } = lineCount;

        public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
