using System.Buffers;
using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace Telemetry.Ingest.Storage;

/// <summary>
/// Writes readings to InfluxDB with nothing lost.
/// <list type="bullet">
/// <item>Group commit: whatever the partitions handed in while the previous request was in flight goes out
/// together, up to <c>Influx:MaxBatchLines</c> per request. A line never waits for a timer, so the 1 s
/// limit on batching is met by construction.</item>
/// <item>Network errors, timeouts, 429 and 5xx are retried with exponential backoff and jitter, honouring
/// <c>Retry-After</c>. 413 splits the request in two; 400 splits it until the bad lines are alone, stores
/// the rest and dead-letters those with the server's message. Repeats are safe: a point written twice is
/// stored once.</item>
/// <item>When the retries run out the batch goes to the spill file, and so does everything after it, in
/// order, until the spill has been replayed. Memory stays bounded by the queue, however long the outage.</item>
/// </list>
/// A write completes (and its messages are acknowledged) only once it is in InfluxDB or in the spill file.
/// </summary>
internal sealed partial class InfluxStore : BackgroundService, IReadingStore
{
    private readonly InfluxClient _client;
    private readonly InfluxOptions _options;
    private readonly StorageCounters _counters;
    private readonly DeadLetters _deadLetters;
    private readonly TimeProvider _time;
    private readonly ILogger<InfluxStore> _logger;
    private readonly Channel<PendingWrite> _queue;
    private readonly SpillFile _spill;
    private readonly ArrayBufferWriter<byte> _group = new(1 << 20);
    private readonly List<PendingWrite> _members = [];
    private readonly byte[] _replayBuffer = new byte[8 << 20];
    private TimeSpan _replayDelay;
    private DateTimeOffset _nextReplay;

    public InfluxStore(
        HttpClient http,
        IOptions<InfluxOptions> options,
        IOptions<StorageOptions> storage,
        StorageCounters counters,
        TimeProvider time,
        ILogger<InfluxStore> logger)
    {
        _options = options.Value;
        _client = new InfluxClient(http, _options, time);
        _counters = counters;
        _time = time;
        _logger = logger;
        _deadLetters = new DeadLetters(storage.Value.DataDirectory, time);
        _spill = new SpillFile(storage.Value.DataDirectory);
        _queue = Channel.CreateBounded<PendingWrite>(new BoundedChannelOptions(storage.Value.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
        _replayDelay = _options.RetryDelay;
        _counters.SpillBacklogBytes = _spill.Pending;
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

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!await _client.EnsureDatabaseAsync(cancellationToken))
        {
            LogDatabaseNotCreated(_logger, _options.Url, _options.Database);
        }

        if (_spill.HasPending)
        {
            LogSpillFound(_logger, _spill.Pending);
        }

        await base.StartAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _spill.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (!_spill.HasPending)
                {
                    if (!await _queue.Reader.WaitToReadAsync(stoppingToken))
                    {
                        return;
                    }

                    Gather();
                    await SendGroupAsync(stoppingToken);
                    continue;
                }

                // Outage or catching up: new writes join the spill so order is kept, and the spill is
                // replayed a chunk at a time in between.
                while (Gather())
                {
                    SpillGroup();
                }

                if (_time.GetUtcNow() >= _nextReplay)
                {
                    await ReplayChunkAsync(stoppingToken);
                    continue;
                }

                using var wake = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                wake.CancelAfter(_nextReplay - _time.GetUtcNow());
                try
                {
                    await _queue.Reader.WaitToReadAsync(wake.Token);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            // Anything still queued is not acknowledged; its messages are redelivered after the restart.
            while (_queue.Reader.TryRead(out var left))
            {
                left.Done.TrySetResult(false);
            }
        }
    }

    /// <summary>Takes queued writes into the group, until the group holds a batch's worth (sending chunks it).</summary>
    private bool Gather()
    {
        _group.Clear();
        _members.Clear();
        var lines = 0;
        while (lines < _options.MaxBatchLines && _queue.Reader.TryRead(out var next))
        {
            _group.Write(next.Lines.Span);
            _members.Add(next);
            lines += next.LineCount;
        }

        return _members.Count > 0;
    }

    private async Task SendGroupAsync(CancellationToken cancellationToken)
    {
        var body = _group.WrittenMemory;
        var offset = 0;
        while (offset < body.Length)
        {
            var (length, lines) = Chunk(body.Span[offset..], _options.MaxBatchLines);
            var sent = await SendAsync(body.Slice(offset, length), lines, _options.Attempts, cancellationToken);
            if (!sent)
            {
                // The database is unavailable: this chunk and the rest of the group go to the spill file.
                var rest = body[offset..];
                var restLines = CountLines(rest.Span);
                if (!TryAppendSpill(rest.Span, restLines))
                {
                    Complete(false);
                    return;
                }

                LogSpilling(_logger, restLines);
                _nextReplay = _time.GetUtcNow() + _replayDelay;
                break;
            }

            _counters.AddWritten(lines);
            offset += length;
        }

        Complete(true);
    }

    private void SpillGroup()
    {
        var body = _group.WrittenMemory.Span;
        Complete(TryAppendSpill(body, CountLines(body)));
    }

    private bool TryAppendSpill(ReadOnlySpan<byte> lines, int count)
    {
        try
        {
            _spill.Append(lines);
            _counters.AddSpilled(count);
            _counters.SpillBacklogBytes = _spill.Pending;
            return true;
        }
        catch (IOException e)
        {
            LogSpillFailed(_logger, e);
            _counters.Failed();
            return false;
        }
    }

    private async Task ReplayChunkAsync(CancellationToken cancellationToken)
    {
        var (bytes, lines) = _spill.ReadChunk(_replayBuffer, _options.MaxBatchLines);
        if (await SendAsync(_replayBuffer.AsMemory(0, bytes), lines, attempts: 1, cancellationToken))
        {
            // Count first: whoever sees the spill file empty must also see the lines counted as replayed.
            _counters.AddReplayed(lines);
            _spill.Advance(bytes);
            _counters.SpillBacklogBytes = _spill.Pending;
            _replayDelay = _options.RetryDelay;
            if (!_spill.HasPending)
            {
                LogCaughtUp(_logger);
            }

            return;
        }

        _nextReplay = _time.GetUtcNow() + Jitter(_replayDelay);
        _replayDelay = TimeSpan.FromTicks(Math.Min(_replayDelay.Ticks * 2, _options.MaxRetryDelay.Ticks));
    }

    /// <summary>
    /// Sends lines until they are stored or dead-lettered (true), or the attempts are used up on transient
    /// failures (false: nothing is known to be stored, and all of it must be kept).
    /// </summary>
    private async Task<bool> SendAsync(ReadOnlyMemory<byte> lines, int count, int attempts, CancellationToken cancellationToken)
    {
        var delay = _options.RetryDelay;
        for (var attempt = 1; ; attempt++)
        {
            var response = await _client.WriteAsync(lines, cancellationToken);
            switch (response.Outcome)
            {
                case WriteOutcome.Written:
                    return true;

                case WriteOutcome.BadRequest or WriteOutcome.TooLarge when count == 1:
                    _deadLetters.Add(lines.Span, response.Message);
                    _counters.AddDeadLettered(1);
                    LogDeadLettered(_logger, response.Message);
                    return true;

                case WriteOutcome.BadRequest or WriteOutcome.TooLarge:
                    // Halve until the bad lines are alone. InfluxDB 1.x may have stored part of the request
                    // already; sending those lines again stores them once.
                    _counters.Split();
                    var (firstLength, _) = Chunk(lines.Span, count / 2);
                    return await SendAsync(lines[..firstLength], count / 2, attempts, cancellationToken)
                        && await SendAsync(lines[firstLength..], count - (count / 2), attempts, cancellationToken);

                default:
                    if (attempt >= attempts)
                    {
                        LogWriteFailed(_logger, attempt, response.Message);
                        return false;
                    }

                    _counters.Retry();
                    var wait = response.RetryAfter is { } after && after > TimeSpan.Zero
                        ? TimeSpan.FromTicks(Math.Min(after.Ticks, _options.MaxRetryDelay.Ticks * 6))
                        : Jitter(delay);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxRetryDelay.Ticks));
                    await Task.Delay(wait, _time, cancellationToken);
                    break;
            }
        }
    }

    private void Complete(bool stored)
    {
        foreach (var member in _members)
        {
            member.Done.TrySetResult(stored);
        }

        _members.Clear();
    }

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

    private sealed class PendingWrite(ReadOnlyMemory<byte> lines, int lineCount)
    {
        public ReadOnlyMemory<byte> Lines { get; } = lines;

        public int LineCount { get; } = lineCount;

        public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "InfluxDB at {Url}: could not create database {Database} at start-up; writes will retry")]
    private static partial void LogDatabaseNotCreated(ILogger logger, string url, string database);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Found {Bytes} bytes in the spill file from an earlier run; replaying them before new writes")]
    private static partial void LogSpillFound(ILogger logger, long bytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "InfluxDB unavailable: spilling {Lines} lines to disk; they will be replayed in order")]
    private static partial void LogSpilling(ILogger logger, int lines);

    [LoggerMessage(Level = LogLevel.Information, Message = "InfluxDB spill replayed: writing directly again")]
    private static partial void LogCaughtUp(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "InfluxDB write failed after {Attempts} attempts: {Message}")]
    private static partial void LogWriteFailed(ILogger logger, int attempts, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "InfluxDB refused a line; dead-lettered: {Message}")]
    private static partial void LogDeadLettered(ILogger logger, string message);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not append to the spill file; the writes stay unacknowledged")]
    private static partial void LogSpillFailed(ILogger logger, Exception exception);
}
