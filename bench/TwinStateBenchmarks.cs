using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans;
using Orleans.Runtime;
using Orleans.Serialization;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Ingest;
using Telemetry.Ingest.Twins;

namespace Telemetry.Bench;

/// <summary>
/// The twin's persistence, which the drain's profile puts at 5 to 15% of the CPU: Orleans serialization of a
/// realistic shoe twin (birth, 8 last values, dedupe progress of one boot, fault baselines, usage, wear) and the
/// SQLite store's write, one twin at a time and 256 at once (group commit: one transaction for all of them).
/// </summary>
[MemoryDiagnoser]
public class TwinStateBenchmarks : IDisposable
{
    private const int Concurrent = 256;

    private readonly Serializer _serializer = new ServiceCollection()
        .AddSerializer(b => b.AddAssembly(typeof(DeviceState).Assembly))
        .BuildServiceProvider()
        .GetRequiredService<Serializer>();

    private DeviceState _state = null!;
    private byte[] _bytes = null!;
    private string _directory = null!;
    private SqliteGrainStorage _store = null!;
    private GrainState<DeviceState>[] _twins = null!;
    private GrainId[] _ids = null!;

    [GlobalSetup]
    public void Setup()
    {
        _state = RealisticShoe();
        _bytes = _serializer.SerializeToArray(_state);
        Console.WriteLine($"// serialized shoe twin: {_bytes.Length} bytes");
        _directory = Directory.CreateTempSubdirectory("twin-bench-").FullName;
        _store = new SqliteGrainStorage(Path.Combine(_directory, "twins.db"), _serializer, TimeProvider.System, NullLogger<SqliteGrainStorage>.Instance);
        _twins = [.. Enumerable.Range(0, Concurrent).Select(_ => new GrainState<DeviceState>(RealisticShoe()))];
        _ids = [.. Enumerable.Range(0, Concurrent).Select(i => GrainId.Create("device", $"shoe-{i:D5}"))];
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _store?.Dispose();
        if (_directory is not null)
        {
            Directory.Delete(_directory, recursive: true);
        }

        GC.SuppressFinalize(this);
    }

    [Benchmark]
    public byte[] Serialize() => _serializer.SerializeToArray(_state);

    [Benchmark]
    public DeviceState Deserialize() => _serializer.Deserialize<DeviceState>(_bytes)!;

    /// <summary>One writer alone: its own transaction (and WAL sync) per write.</summary>
    [Benchmark]
    public Task WriteOne() => _store.WriteStateAsync("device", _ids[0], _twins[0]);

    /// <summary>A round's worth of twins written at once, as a drain's grain calls do; per twin.</summary>
    [Benchmark(OperationsPerInvoke = Concurrent)]
    public Task WriteConcurrent()
    {
        var writes = new Task[Concurrent];
        for (var i = 0; i < Concurrent; i++)
        {
            writes[i] = _store.WriteStateAsync("device", _ids[i], _twins[i]);
        }

        return Task.WhenAll(writes);
    }

    /// <summary>A shoe a few hundred readings into its life, as the drain's twins are.</summary>
    private static DeviceState RealisticShoe()
    {
        var state = new DeviceState
        {
            Birth = new DeviceBirth { Kind = "shoe", Model = "aerorun-3", Batch = "2025w28-sz2", Firmware = "1.4.2", Manufactured = new DateOnly(2025, 7, 14), WearerKg = 72 },
            FirstSeen = DateTimeOffset.UnixEpoch.AddYears(56),
            LastSeen = DateTimeOffset.UnixEpoch.AddYears(56).AddHours(1),
            FirstReadingMs = 1_795_000_000_000,
            LastReadingMs = 1_795_003_600_000,
            DistanceM = 84_000,
            DurationS = 30_000,
            Steps = 90_000,
            Messages = 100,
            Readings = 2000,
            Wear = new WearSnapshot { ModelVersion = "shoe-rul-1", EstimatedAt = DateTimeOffset.UnixEpoch.AddYears(56), CushioningPct = 91.5, RemainingKm = 612, RemainingP10 = 480, RemainingP90 = 730 },
        };
        foreach (var (name, value) in (ReadOnlySpan<(string, double)>)[("distance_m", 1200), ("duration_s", 330), ("steps", 1100), ("impact_g", 8.4), ("contact_ms", 236), ("cadence_spm", 171), ("midsole_temp_c", 24), ("battery_pct", 81)])
        {
            state.SetLastValue(name, value, 64);
        }

        for (var seq = 0u; seq < 100; seq++)
        {
            state.Progress.Record(new MessageKey("b1795000000", seq));
        }

        for (var r = 0; r < 60; r++)
        {
            state.Faults.ObserveShoe(8 + (r % 7 / 10.0), 230 + (r % 9));
        }

        state.ShoeUsage.DistanceKm = 84;
        state.ShoeUsage.RunningSeconds = 30_000;
        return state;
    }
}
