using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Telemetry.Ingest.Hosting;
using Telemetry.Ingest.Storage;
using Xunit;

namespace Telemetry.UnitTests;

public sealed class LineFileStoreTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("telemetry-lines-").FullName;
    private readonly StorageCounters _counters = new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>());
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));

    public void Dispose() => Directory.Delete(_data, recursive: true);

    [Fact]
    public async Task UnwritableDirectory_IsNotAcknowledgedAndUnhealthyUntilAWriteSucceeds()
    {
        // lines/ replaced by a regular file: creating the directory fails, for root as well.
        var lines = Path.Combine(_data, "lines");
        File.WriteAllText(lines, "in the way");
        var health = new ComponentHealth(_time);
        using var store = new LineFileStore(Options.Create(new StorageOptions { DataDirectory = _data }), _counters, health, _time,
            NullLogger<LineFileStore>.Instance);

        var refused = await store.StoreAsync("m f=1i 1\n"u8.ToArray(), 1, CancellationToken.None);

        Assert.False(refused);
        Assert.Equal((1, 0), (_counters.Failures, _counters.Written));
        var state = Assert.Single(health.Failing());
        Assert.Equal(("store", HealthStatus.Unhealthy), (state.Key, state.Value.Status));
        Assert.StartsWith($"cannot write readings under {lines}: ", state.Value.Reason, StringComparison.Ordinal);

        File.Delete(lines);
        var stored = await store.StoreAsync("m f=2i 2\n"u8.ToArray(), 1, CancellationToken.None);

        Assert.True(stored);
        Assert.Equal((1, 1), (_counters.Failures, _counters.Written));
        Assert.Empty(health.Failing());
        Assert.Equal("m f=2i 2\n", File.ReadAllText(Path.Combine(lines, "2026-11-26.lp")));
    }

    [Fact(Timeout = 60_000)]
    public async Task WritesArrivingDuringAFlush_ShareTheNextFlush_AndEachReturnsOnlyOnceItIsOnDisk()
    {
        using var flushes = new ScriptedFlushes();
        using var store = Store(flushes);

        var first = store.StoreAsync("m f=0i 0\n"u8.ToArray(), 1, CancellationToken.None).AsTask();
        await flushes.Started(1);
        // While the first flush is on its way to disk, 50 more writes arrive: none may return before a flush covers it.
        // They wait for the gate in arrival order (SemaphoreSlim's), ahead of the flush the first of them starts.
        var more = Enumerable.Range(1, 50).Select(i => store.StoreAsync(System.Text.Encoding.ASCII.GetBytes($"m f={i}i {i}\n"), 1, CancellationToken.None).AsTask()).ToList();
        Assert.False(first.IsCompleted);
        flushes.Release(1);
        Assert.True(await first);
        await flushes.Started(2);
        Assert.All(more, w => Assert.False(w.IsCompleted));
        flushes.Release(2);

        Assert.All(await Task.WhenAll(more), Assert.True);
        Assert.Equal(2, flushes.Count);
        Assert.Equal(51, _counters.Written);
        Assert.Equal(51, File.ReadAllLines(DayFile).Length);
    }

    [Fact(Timeout = 60_000)]
    public async Task AFailedFlush_FailsEveryWriteItCovered_AndCutsTheFileBackToWhatWasOnDisk()
    {
        using var flushes = new ScriptedFlushes();
        var health = new ComponentHealth(_time);
        using var store = await StoreWithFirstLineAsync(flushes, health, release: 1);

        flushes.FailNext = new IOException("No space left on device");
        var failed = Enumerable.Range(1, 3).Select(i => store.StoreAsync(System.Text.Encoding.ASCII.GetBytes($"m f={i}i {i}\n"), 1, CancellationToken.None).AsTask()).ToList();
        await flushes.Started(2);
        flushes.Release(2);

        Assert.All(await Task.WhenAll(failed), Assert.False);
        Assert.Equal("m f=0i 0\n", File.ReadAllText(DayFile));
        Assert.Equal((1, 1), (_counters.Failures, _counters.Written));
        Assert.Equal(HealthStatus.Unhealthy, Assert.Single(health.Failing()).Value.Status);

        // The devices send them again: stored once each, and the store is healthy again.
        flushes.Release(3);
        Assert.True(await store.StoreAsync("m f=1i 1\nm f=2i 2\nm f=3i 3\n"u8.ToArray(), 3, CancellationToken.None));
        Assert.Equal(["m f=0i 0", "m f=1i 1", "m f=2i 2", "m f=3i 3"], File.ReadAllLines(DayFile));
        Assert.Empty(health.Failing());
    }

    [Fact(Timeout = 60_000)]
    public async Task AWriteOnANewDay_FlushesYesterdaysFileFirst_AndStartsTodays()
    {
        using var flushes = new ScriptedFlushes();
        using var store = Store(flushes);
        flushes.Release(10);

        // Day one's write may still wait for its flush when day two's arrives: one of the two flushes it.
        var dayOne = store.StoreAsync("m f=0i 0\n"u8.ToArray(), 1, CancellationToken.None).AsTask();
        _time.Advance(TimeSpan.FromDays(1));
        Assert.True(await store.StoreAsync("m f=1i 1\n"u8.ToArray(), 1, CancellationToken.None));
        Assert.True(await dayOne);

        Assert.Equal("m f=0i 0\n", File.ReadAllText(DayFile));
        Assert.Equal("m f=1i 1\n", File.ReadAllText(Path.Combine(_data, "lines", "2026-11-27.lp")));
        Assert.InRange(flushes.Count, 2, 3);
    }

    [Fact(Timeout = 60_000)]
    public async Task AWriteOnDiskBeforeADayChangeFails_IsStored_AndTheStoreStaysUnhealthy()
    {
        using var flushes = new ScriptedFlushes();
        var health = new ComponentHealth(_time);
        using var store = await StoreWithFirstLineAsync(flushes, health, release: 10);

        // A write on day one, and before or after its flush, one on day two whose file cannot be opened (a directory
        // is in its place). Whichever runs first, the first write is on disk and must be answered stored.
        var dayOne = store.StoreAsync("m f=1i 1\n"u8.ToArray(), 1, CancellationToken.None).AsTask();
        Directory.CreateDirectory(Path.Combine(_data, "lines", "2026-11-27.lp"));
        _time.Advance(TimeSpan.FromDays(1));
        var dayTwo = store.StoreAsync("m f=2i 2\n"u8.ToArray(), 1, CancellationToken.None).AsTask();

        Assert.True(await dayOne);
        Assert.False(await dayTwo);
        Assert.Equal(["m f=0i 0", "m f=1i 1"], File.ReadAllLines(DayFile));
        // No flush since has put anything on disk, so nothing says the store works again.
        var state = Assert.Single(health.Failing());
        Assert.Equal(HealthStatus.Unhealthy, state.Value.Status);
        Assert.Equal((1, 2), (_counters.Failures, _counters.Written));
    }

    [Fact(Timeout = 60_000)]
    public async Task AWriteWaitingWhenTheStoreIsDisposed_IsAnsweredAsItEndsOnDisk()
    {
        // Dispose races the write's own flush; whichever wins, the answer must match the file.
        for (var i = 0; i < 20; i++)
        {
            var data = Directory.CreateTempSubdirectory("telemetry-lines-dispose-").FullName;
            try
            {
                var store = new LineFileStore(Options.Create(new StorageOptions { DataDirectory = data }), _counters, new ComponentHealth(_time), _time,
                    NullLogger<LineFileStore>.Instance);
                var write = store.StoreAsync("m f=1i 1\n"u8.ToArray(), 1, CancellationToken.None).AsTask();
                store.Dispose();

                Assert.True(await write);
                Assert.Equal("m f=1i 1\n", File.ReadAllText(Path.Combine(data, "lines", "2026-11-26.lp")));
                Assert.False(await store.StoreAsync("m f=2i 2\n"u8.ToArray(), 1, CancellationToken.None));
            }
            finally
            {
                Directory.Delete(data, recursive: true);
            }
        }
    }

    private string DayFile => Path.Combine(_data, "lines", "2026-11-26.lp");

    /// <summary>A store whose first line ("m f=0i 0") is on disk, with flushes up to <paramref name="release"/> let through.</summary>
    private async Task<LineFileStore> StoreWithFirstLineAsync(ScriptedFlushes flushes, ComponentHealth health, int release)
    {
        var store = Store(flushes, health);
        flushes.Release(release);
        Assert.True(await store.StoreAsync("m f=0i 0\n"u8.ToArray(), 1, CancellationToken.None));
        return store;
    }

    private LineFileStore Store(ScriptedFlushes flushes, ComponentHealth? health = null) =>
        new(Options.Create(new StorageOptions { DataDirectory = _data }), _counters, health ?? new ComponentHealth(_time), _time, NullLogger<LineFileStore>.Instance)
        {
            FlushToDisk = flushes.Flush,
        };

    /// <summary>Flushes that are counted, wait until the test lets the n-th one through, and can fail.</summary>
    private sealed class ScriptedFlushes : IDisposable
    {
        private readonly SemaphoreSlim _started = new(0);
        private readonly Dictionary<int, ManualResetEventSlim> _gates = [];
        private int _count;

        public int Count => Volatile.Read(ref _count);

        private Exception? _failNext;

        public Exception? FailNext
        {
            get => Volatile.Read(ref _failNext);
            set => Volatile.Write(ref _failNext, value);
        }

        public void Flush(FileStream file)
        {
            var n = Interlocked.Increment(ref _count);
            _started.Release();
            if (!Gate(n).Wait(TimeSpan.FromSeconds(10)))
            {
                // A flush the test never let through: its writers fail, and so does the test.
                throw new IOException($"flush {n} was not let through");
            }

            if (Interlocked.Exchange(ref _failNext, null) is { } failure)
            {
                throw failure;
            }

            file.Flush(flushToDisk: true);
        }

        /// <summary>Waits until flush number <paramref name="n"/> has started.</summary>
        public async Task Started(int n)
        {
            while (Count < n)
            {
                Assert.True(await _started.WaitAsync(TimeSpan.FromSeconds(10)), $"flush {n} did not start");
            }
        }

        /// <summary>Lets flushes up to number <paramref name="n"/> through.</summary>
        public void Release(int n)
        {
            for (var i = 1; i <= n; i++)
            {
                Gate(i).Set();
            }
        }

        private ManualResetEventSlim Gate(int n)
        {
            lock (_gates)
            {
                return _gates.TryGetValue(n, out var gate) ? gate : _gates[n] = new ManualResetEventSlim();
            }
        }

        public void Dispose()
        {
            _started.Dispose();
            foreach (var gate in _gates.Values)
            {
                gate.Dispose();
            }
        }
    }
}
