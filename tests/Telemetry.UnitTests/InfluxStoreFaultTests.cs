using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.IO.Compression;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Telemetry.Ingest.Hosting;
using Telemetry.Ingest.Storage;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// The InfluxDB store against a scripted HTTP handler (no network): poison lines in the spill file on 1.x
/// (400) and 2.x (422), a missing database, refused credentials, a failing disk, and an exception the loop
/// did not expect. Time is fake, so backoff never makes a test wait.
/// </summary>
public sealed class InfluxStoreFaultTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly string _data = Directory.CreateTempSubdirectory("telemetry-store-").FullName;
    private readonly StorageCounters _counters = new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>());
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
    private readonly ComponentHealth _health;
    private readonly ScriptedInflux _influx = new();

    public InfluxStoreFaultTests() => _health = new ComponentHealth(_time);

    public void Dispose() => Directory.Delete(_data, recursive: true);

    [Theory]
    [InlineData(InfluxApiVersion.V1, 400, """{"error":"partial write: field type conflict: input field \"f\" on measurement \"m\" is type string, already exists as type integer dropped=1"}""")]
    [InlineData(InfluxApiVersion.V2, 422, """{"code":"unprocessable entity","message":"failure writing points to database: partial write: field type conflict"}""")]
    public async Task PoisonLineInTheSpill_IsDeadLetteredAndEveryOtherLineReplayed(InfluxApiVersion api, int status, string refusal)
    {
        var random = new Random(11);
        var good = Enumerable.Range(0, 40).Select(i => $"m,device=d{i % 4} f={i}i {1_000 + i}").ToList();
        const string poison = "m,device=d1 f=\"x\" 999";
        good.Insert(random.Next(1, good.Count), poison);
        File.WriteAllText(Path.Combine(_data, "influx-spill.lp"), string.Join('\n', good) + "\n");
        good.Remove(poison);

        // Both versions store the good lines of a refused request; sending them again is harmless.
        _influx.OnWrite = lines => lines.Contains(poison) ? (status, refusal) : (204, string.Empty);
        using var gate = new SemaphoreSlim(0);
        _influx.Gate = gate;
        using var store = Store(new InfluxOptions { ApiVersion = api, Org = "o", MaxBatchLines = 1000, Attempts = 1 });
        await store.StartAsync(CancellationToken.None).WaitAsync(Patience);

        var degraded = Assert.Single(_health.Failing());
        Assert.Equal(("store", HealthStatus.Degraded), (degraded.Key, degraded.Value.Status));
        Assert.Contains("bytes spilled, replaying", degraded.Value.Reason, StringComparison.Ordinal);
        gate.Release(1000);
        await WaitUntilAsync(() => !store.Spilling, "the spill was not replayed past the poison line");
        await store.StopAsync(CancellationToken.None);

        Assert.Equal([.. good.Order(StringComparer.Ordinal)], _influx.Stored);
        Assert.Equal(1, _counters.DeadLettered);
        Assert.Equal(40, _counters.Replayed);
        Assert.True(_counters.Splits >= 5, $"a 41-line chunk halves at least 5 times to isolate one line (was {_counters.Splits})");
        var deadLetters = File.ReadAllLines(Directory.GetFiles(Path.Combine(_data, "deadletter")).Single());
        Assert.Equal(2, deadLetters.Length);
        Assert.StartsWith("# 2026-11-26T12:00:00", deadLetters[0], StringComparison.Ordinal);
        Assert.Contains($"{status} ", deadLetters[0], StringComparison.Ordinal);
        Assert.Contains("field type conflict", deadLetters[0], StringComparison.Ordinal);
        Assert.Equal(poison, deadLetters[1]);
        Assert.Equal(HealthStatus.Healthy, _health.Worst());
        Assert.False(File.Exists(Path.Combine(_data, "influx-spill.lp")));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task MoreThanABatchWaiting_GoesOutAsConcurrentRequests_UpToWriters(int writers)
    {
        using var gate = new SemaphoreSlim(0);
        _influx.Gate = gate;
        using var store = Store(new InfluxOptions { MaxBatchLines = 10, Writers = writers });
        var lines = Enumerable.Range(0, 40).Select(i => $"m,device=d{i % 4} f={i}i {1_000 + i}").ToArray();
        // Queued before the writer starts, so its first gathering finds four batches' worth.
        var writes = lines.Chunk(10)
            .Select(chunk => store.StoreAsync(Encoding.UTF8.GetBytes(string.Join('\n', chunk) + "\n"), chunk.Length, CancellationToken.None).AsTask())
            .ToArray();
        await store.StartAsync(CancellationToken.None).WaitAsync(Patience);

        await WaitUntilAsync(() => _influx.Waiting == writers, $"{writers} requests were not in flight together");
        gate.Release(100);
        var stored = await Task.WhenAll(writes).WaitAsync(Patience);
        await store.StopAsync(CancellationToken.None);

        Assert.All(stored, Assert.True);
        Assert.Equal(writers, _influx.MostWaiting);
        Assert.Equal([.. lines.Order(StringComparer.Ordinal)], _influx.Stored);
        Assert.Equal(40, _counters.Written);
    }

    [Fact]
    public async Task NewWrites_AreSpilledWhileAReplayRequestHangs()
    {
        File.WriteAllText(Path.Combine(_data, "influx-spill.lp"), "m f=1i 1\n");
        using var gate = new SemaphoreSlim(0);
        _influx.Gate = gate;
        using var store = Store(new InfluxOptions { CreateDatabase = false });
        await store.StartAsync(CancellationToken.None);

        // The replay request is held by the gate until the new write is stored: it can only be stored by
        // going to the spill file while that request is in flight.
        var stored = await store.StoreAsync("m f=2i 2\n"u8.ToArray(), 1, CancellationToken.None).AsTask().WaitAsync(Patience);

        Assert.True(stored);
        Assert.Equal((1, 0), (_counters.Spilled, _influx.Stored.Length));
        gate.Release(100);
        await WaitUntilAsync(() => !store.Spilling, "the spill was not replayed once the request was answered");
        await store.StopAsync(CancellationToken.None);

        Assert.Equal(["m f=1i 1", "m f=2i 2"], _influx.Stored);
        Assert.Equal(2, _counters.Replayed);
        Assert.Equal(HealthStatus.Healthy, _health.Worst());
    }

    [Fact]
    public async Task UnprocessableEntityOnADirectWrite_IsDeadLetteredNotRetried()
    {
        _influx.OnWrite = lines => lines.Any(l => l.Contains("bad", StringComparison.Ordinal)) ? (422, "unprocessable") : (204, string.Empty);
        using var store = Store(new InfluxOptions { ApiVersion = InfluxApiVersion.V2, Org = "o" });
        await store.StartAsync(CancellationToken.None);

        var stored = await store.StoreAsync("m f=1i 1\nbad f=\"x\" 2\nm f=3i 3\n"u8.ToArray(), 3, CancellationToken.None).AsTask().WaitAsync(Patience);
        await store.StopAsync(CancellationToken.None);

        Assert.True(stored);
        Assert.Equal(["m f=1i 1", "m f=3i 3"], _influx.Stored);
        Assert.Equal((2, 1, 0, 0), (_counters.Written, _counters.DeadLettered, _counters.Retries, _counters.Spilled));
    }

    [Fact]
    public async Task DatabaseMissing_IsCreatedAndTheWriteRetried()
    {
        // Creation at start-up fails (the server is still starting), so the first write finds no database.
        var created = false;
        _influx.OnQuery = () =>
        {
            if (_influx.Queries == 1)
            {
                return 503;
            }

            created = true;
            return 200;
        };
        _influx.OnWrite = _ => created ? (204, string.Empty) : (404, """{"error":"database not found: \"telemetry\""}""");
        using var store = Store(new InfluxOptions { Attempts = 1 });
        await store.StartAsync(CancellationToken.None);

        var stored = await store.StoreAsync("m f=1i 1\n"u8.ToArray(), 1, CancellationToken.None).AsTask().WaitAsync(Patience);
        await store.StopAsync(CancellationToken.None);

        Assert.True(stored);
        Assert.Equal(2, _influx.Queries);
        Assert.Equal(["m f=1i 1"], _influx.Stored);
        Assert.Equal((1, 0), (_counters.Written, _counters.Spilled));
        Assert.Equal(HealthStatus.Healthy, _health.Worst());
    }

    [Fact]
    public async Task RefusedCredentials_SpillAndSayWhyUntilInfluxTakesThem()
    {
        var accept = false;
        _influx.OnWrite = _ => accept ? (204, string.Empty) : (401, """{"error":"authorization failed"}""");
        using var store = Store(new InfluxOptions { Attempts = 1, CreateDatabase = false });
        await store.StartAsync(CancellationToken.None);

        Assert.True(await store.StoreAsync("m f=1i 1\n"u8.ToArray(), 1, CancellationToken.None).AsTask().WaitAsync(Patience));

        Assert.True(store.Spilling);
        Assert.Equal(1, _counters.Spilled);
        var state = Assert.Single(_health.Failing()).Value;
        Assert.Equal(HealthStatus.Unhealthy, state.Status);
        Assert.Equal("InfluxDB refuses our credentials: 401 {\"error\":\"authorization failed\"}", state.Reason);

        accept = true;
        await AdvanceUntilAsync(() => !store.Spilling, "the spill was not replayed once the credentials were taken");
        await store.StopAsync(CancellationToken.None);

        Assert.Equal(["m f=1i 1"], _influx.Stored);
        Assert.Equal(1, _counters.Replayed);
        Assert.Equal(HealthStatus.Healthy, _health.Worst());
    }

    [Fact]
    public async Task BucketMissingOnV2_IsUnhealthyWithTheServersAnswerAndTheLinesKept()
    {
        _influx.OnWrite = _ => (404, """{"code":"not found","message":"bucket \"telemetry\" not found"}""");
        using var store = Store(new InfluxOptions { ApiVersion = InfluxApiVersion.V2, Org = "o", Attempts = 1 });
        await store.StartAsync(CancellationToken.None);

        Assert.True(await store.StoreAsync("m f=1i 1\n"u8.ToArray(), 1, CancellationToken.None).AsTask().WaitAsync(Patience));
        await store.StopAsync(CancellationToken.None);

        Assert.Equal((1, 0, 0), (_counters.Spilled, _counters.DeadLettered, _influx.Queries));
        var state = Assert.Single(_health.Failing()).Value;
        Assert.Equal(HealthStatus.Unhealthy, state.Status);
        Assert.Equal("InfluxDB has no database or bucket to write to: 404 {\"code\":\"not found\",\"message\":\"bucket \\\"telemetry\\\" not found\"}", state.Reason);
    }

    [Fact]
    public async Task SpilledLineLongerThanTheReplayBuffer_IsDeadLetteredAndTheRestReplayed()
    {
        var longLine = "m,device=d text=\"" + new string('x', 9 << 20) + "\" 2";
        File.WriteAllText(Path.Combine(_data, "influx-spill.lp"), $"m f=1i 1\n{longLine}\nm f=3i 3\n");
        using var store = Store(new InfluxOptions { CreateDatabase = false });
        await store.StartAsync(CancellationToken.None);

        await WaitUntilAsync(() => !store.Spilling, "replay stopped at the long line");
        await store.StopAsync(CancellationToken.None);

        Assert.Equal(["m f=1i 1", "m f=3i 3"], _influx.Stored);
        Assert.Equal((2, 1), (_counters.Replayed, _counters.DeadLettered));
        var deadLetters = File.ReadAllLines(Directory.GetFiles(Path.Combine(_data, "deadletter")).Single());
        Assert.Equal(2, deadLetters.Length);
        Assert.Contains("is longer than 8388608 bytes", deadLetters[0], StringComparison.Ordinal);
        Assert.Equal(longLine, deadLetters[1]);
        Assert.Equal(HealthStatus.Healthy, _health.Worst());
    }

    [Fact]
    public async Task ReplayPositionThatCannotBeRecorded_DoesNotStopReplayOrTheLoop()
    {
        File.WriteAllText(Path.Combine(_data, "influx-spill.lp"), "m f=1i 1\nm f=2i 2\nm f=3i 3\n");
        // A directory where the cursor file goes: every cursor write fails, for root as well.
        Directory.CreateDirectory(Path.Combine(_data, "influx-spill.cursor"));
        using var store = Store(new InfluxOptions { CreateDatabase = false, MaxBatchLines = 1 });
        await store.StartAsync(CancellationToken.None);

        await WaitUntilAsync(() => !store.Spilling, "replay stopped at the first cursor that could not be written");

        Assert.Equal(["m f=1i 1", "m f=2i 2", "m f=3i 3"], _influx.Stored);
        Assert.Equal(3, _counters.Replayed);
        Assert.False(File.Exists(Path.Combine(_data, "influx-spill.lp")));
        Assert.True(_counters.Failures >= 2, $"each failed cursor write is counted (was {_counters.Failures})");
        Assert.StartsWith("cannot record the InfluxDB replay position under ", _health.Failing()["store"].Reason, StringComparison.Ordinal);

        // The loop is alive: a new write goes straight to InfluxDB.
        Assert.True(await store.StoreAsync("m f=4i 4\n"u8.ToArray(), 1, CancellationToken.None).AsTask().WaitAsync(Patience));
        await store.StopAsync(CancellationToken.None);
        Assert.Equal(1, _counters.Written);
    }

    [Fact]
    public async Task SpillAppendThatFails_IsNotAcknowledgedAndMakesTheStoreUnhealthy()
    {
        _influx.OnWrite = _ => (503, "overloaded");
        var diskFull = true;
        var spill = new SpillFile(_data, path => diskFull
            ? throw new IOException("No space left on device", 28)
            : new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read, 0));
        using var store = Store(new InfluxOptions { Attempts = 1, CreateDatabase = false }, spill);
        await store.StartAsync(CancellationToken.None);

        var first = await store.StoreAsync("m f=1i 1\n"u8.ToArray(), 1, CancellationToken.None).AsTask().WaitAsync(Patience);

        Assert.False(first);
        Assert.Equal((1, 0), (_counters.Failures, _counters.Spilled));
        var state = Assert.Single(_health.Failing()).Value;
        Assert.Equal(HealthStatus.Unhealthy, state.Status);
        Assert.Equal($"cannot write the InfluxDB spill file under {_data}: No space left on device", state.Reason);

        diskFull = false;
        var second = await store.StoreAsync("m f=1i 1\n"u8.ToArray(), 1, CancellationToken.None).AsTask().WaitAsync(Patience);
        await store.StopAsync(CancellationToken.None);

        Assert.True(second);
        Assert.Equal(1, _counters.Spilled);
        Assert.Equal(HealthStatus.Degraded, _health.Worst());
        Assert.Equal("m f=1i 1\n", File.ReadAllText(Path.Combine(_data, "influx-spill.lp")));
    }

    [Fact]
    public async Task DeadLetterThatCannotBeWritten_KeepsTheLineUntilItCanBe()
    {
        // The dead-letter directory is taken by a file: a bad line cannot be set aside, so it must stay (in the
        // spill), not be counted as handled.
        File.WriteAllText(Path.Combine(_data, "deadletter"), "in the way");
        _influx.OnWrite = lines => lines.Contains("bad f=\"x\" 2") ? (400, "field type conflict") : (204, string.Empty);
        using var store = Store(new InfluxOptions { Attempts = 1, CreateDatabase = false });
        await store.StartAsync(CancellationToken.None);

        Assert.True(await store.StoreAsync("m f=1i 1\nbad f=\"x\" 2\n"u8.ToArray(), 2, CancellationToken.None).AsTask().WaitAsync(Patience));

        Assert.Equal((1, 0, 1), (_counters.Written, _counters.DeadLettered, _counters.Spilled));
        Assert.Equal("bad f=\"x\" 2\n", File.ReadAllText(Path.Combine(_data, "influx-spill.lp")));
        Assert.Equal(HealthStatus.Unhealthy, _health.Worst());
        Assert.StartsWith("cannot write dead letters under ", _health.Failing()["store"].Reason, StringComparison.Ordinal);

        File.Delete(Path.Combine(_data, "deadletter"));
        await AdvanceUntilAsync(() => !store.Spilling, "the bad line was not dead-lettered once the directory was free");
        await store.StopAsync(CancellationToken.None);

        Assert.Equal((1, 0), (_counters.DeadLettered, _counters.Replayed));
        Assert.Contains("bad f=\"x\" 2", File.ReadAllText(Directory.GetFiles(Path.Combine(_data, "deadletter")).Single()), StringComparison.Ordinal);
        Assert.Equal(HealthStatus.Healthy, _health.Worst());
    }

    [Fact]
    public async Task UnexpectedException_FailsTheWritesInHandAndTheLoopGoesOn()
    {
        var throwOnce = true;
        _influx.OnWrite = _ =>
        {
            if (throwOnce)
            {
                throwOnce = false;
                throw new InvalidOperationException("handler bug");
            }

            return (204, string.Empty);
        };
        using var store = Store(new InfluxOptions { CreateDatabase = false });
        await store.StartAsync(CancellationToken.None);

        var first = await store.StoreAsync("m f=1i 1\n"u8.ToArray(), 1, CancellationToken.None).AsTask().WaitAsync(Patience);

        Assert.False(first);
        Assert.Equal(1, _counters.Failures);
        var state = Assert.Single(_health.Failing()).Value;
        Assert.Equal(HealthStatus.Unhealthy, state.Status);
        Assert.Contains("InvalidOperationException: handler bug", state.Reason, StringComparison.Ordinal);

        var second = store.StoreAsync("m f=1i 1\n"u8.ToArray(), 1, CancellationToken.None).AsTask();
        await AdvanceUntilAsync(() => second.IsCompleted, "the loop did not resume after its pause");
        await store.StopAsync(CancellationToken.None);

        Assert.True(await second);
        Assert.Equal(["m f=1i 1"], _influx.Stored);
        Assert.Equal(HealthStatus.Healthy, _health.Worst());
    }

    private InfluxStore Store(InfluxOptions options, SpillFile? spill = null)
    {
        options.Url = "http://influx.test:8086";
        options.RetryDelay = TimeSpan.FromMilliseconds(100);
        options.MaxRetryDelay = TimeSpan.FromSeconds(1);
        var storage = Options.Create(new StorageOptions { DataDirectory = _data });
        return new InfluxStore(new HttpClient(_influx), Options.Create(options), storage, _counters, _health, _time,
            NullLogger<InfluxStore>.Instance, spill ?? new SpillFile(_data));
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            await Task.Delay(10);
        }
    }

    /// <summary>Moves fake time on in steps, so that whatever backoff the store chose runs out, until
    /// <paramref name="condition"/> holds.</summary>
    private async Task AdvanceUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            _time.Advance(TimeSpan.FromMilliseconds(500));
            await Task.Delay(10);
        }
    }

    /// <summary>An InfluxDB played by a message handler: writes (gzip line protocol) are answered by
    /// <see cref="OnWrite"/>, and the lines of those answered 2xx are recorded as stored.</summary>
    private sealed class ScriptedInflux : HttpMessageHandler
    {
        public Func<IReadOnlyList<string>, (int Status, string Body)> OnWrite { get; set; } = _ => (204, string.Empty);

        public Func<int> OnQuery { get; set; } = () => 200;

        /// <summary>When set, each write waits for one release.</summary>
        public SemaphoreSlim? Gate { get; set; }

        private readonly ConcurrentDictionary<string, bool> _stored = new(StringComparer.Ordinal);

        /// <summary>The distinct lines stored, in order: like InfluxDB, a line written twice is stored once.</summary>
        public string[] Stored => [.. _stored.Keys.Order(StringComparer.Ordinal)];

        public int Queries => _queries;

        /// <summary>Write requests waiting at the gate now, and the most that ever waited together.</summary>
        public int Waiting => Volatile.Read(ref _waiting);

        public int MostWaiting { get; private set; }

        private int _queries;
        private int _waiting;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.RequestUri!.AbsolutePath.EndsWith("/query", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _queries);
                return new HttpResponseMessage((HttpStatusCode)OnQuery());
            }

            if (Gate is not null)
            {
                var waiting = Interlocked.Increment(ref _waiting);
                lock (_stored)
                {
                    MostWaiting = Math.Max(MostWaiting, waiting);
                }

                try
                {
                    await Gate.WaitAsync(cancellationToken);
                }
                finally
                {
                    Interlocked.Decrement(ref _waiting);
                }
            }

            using var gzip = new GZipStream(await request.Content!.ReadAsStreamAsync(cancellationToken), CompressionMode.Decompress);
            using var reader = new StreamReader(gzip, Encoding.UTF8);
            var lines = (await reader.ReadToEndAsync(cancellationToken)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var (status, body) = OnWrite(lines);
            if (status is >= 200 and < 300)
            {
                foreach (var line in lines)
                {
                    _stored[line] = true;
                }
            }
            else if (status is 400 or 422)
            {
                // InfluxDB stores the good lines of a request it refuses for a bad one.
                foreach (var line in lines.Where(l => OnWrite([l]).Status is >= 200 and < 300))
                {
                    _stored[line] = true;
                }
            }

            return new HttpResponseMessage((HttpStatusCode)status) { Content = new StringContent(body) };
        }
    }
}
