using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Ingest;
using Telemetry.Models.Rul;
using Telemetry.Models.Simulation;
using Telemetry.Models.Wear;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>The models a brand would train for its twins (#15 part 4), made once per test class: a band curve fit, a
/// band regression and a shoe regression, each by train-rul on simulate-runs' file of 30 devices of another seed.</summary>
public sealed class OwnRulTraining : IAsyncLifetime
{
    public static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public string Root { get; } = Directory.CreateTempSubdirectory("own-rul-").FullName;

    public string BandFit => Path.Combine(Root, "band-fit.zip");

    public string BandRegression => Path.Combine(Root, "band-regression.zip");

    public string ShoeRegression => Path.Combine(Root, "shoe-regression.zip");

    public string BandCsv => Path.Combine(Root, "bands.csv");

    public string ShoeCsv => Path.Combine(Root, "shoes.csv");

    public async Task InitializeAsync()
    {
        await Run(["simulate-runs", "--kind", "band", "--devices", "30", "--seed", "5", "--out", BandCsv]);
        await Run(["simulate-runs", "--kind", "shoe", "--devices", "30", "--seed", "5", "--out", ShoeCsv]);
        await Run(["train-rul", "--csv", BandCsv, "--unit", "device", "--time", "cycles", "--method", "curve-fit", "--candidates", "1", "--out", BandFit]);
        await Run(["train-rul", "--csv", BandCsv, "--unit", "device", "--time", "cycles", "--method", "regression", "--candidates", "1", "--trees", "50", "--out", BandRegression]);
        await Run(["train-rul", "--csv", ShoeCsv, "--unit", "device", "--time", "km", "--method", "regression", "--candidates", "1", "--trees", "50", "--out", ShoeRegression]);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(Root, recursive: true);
        return Task.CompletedTask;
    }

    /// <summary>Devices of one kind from the generator, new (bands too, as simulate-runs makes them).</summary>
    public static IEnumerable<SimulatedDevice> NewDevices<T>(int count, int seed) where T : SimulatedDevice =>
        FleetGenerator.Create(count * 2, seed, FleetFaults.Default with { NewBands = true }).OfType<T>().Take(count);

    /// <summary>The twin as the store gives it back.</summary>
    public static DeviceState Stored(DeviceState state)
    {
        var serializer = new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(DeviceState).Assembly)).BuildServiceProvider().GetRequiredService<Serializer>();
        return serializer.Deserialize<DeviceState>(serializer.SerializeToArray(state))!;
    }

    private static async Task Run(string[] args)
    {
        var (code, _, error) = await ModelCli.InvokeAsync(args);
        Assert.True(code == 0, error);
    }
}

/// <summary>A generated device run week by week through the twin's code, as the grain runs it; <c>keep</c> may drop metrics.</summary>
internal sealed class OwnRulTwin(SimulatedDevice device, OwnRulModel? own)
{
    private readonly List<SimulatedReading> _readings = [];

    public DeviceState State { get; } = new()
    {
        Birth = new DeviceBirth
        {
            Kind = device is SimulatedShoe ? "shoe" : "band", Model = "M1", Batch = "B1", Firmware = "1.0.0",
            WearerKg = device.Birth.WearerKg, RatedCapacityMah = device.Birth.RatedCapacityMah,
        },
    };

    public double TrueRemaining => device switch
    {
        SimulatedShoe shoe => shoe.TrueRemainingKm,
        SimulatedBand band => band.TrueRemainingCycles,
        _ => throw new InvalidOperationException(),
    };

    /// <summary>A twin of <paramref name="device"/>, started at <see cref="OwnRulTraining.Start"/>.</summary>
    public static OwnRulTwin Started(SimulatedDevice device, OwnRulModel? own)
    {
        device.Start(OwnRulTraining.Start);
        return new OwnRulTwin(device, own);
    }

    /// <summary>Every week from day <paramref name="from"/> to day <paramref name="to"/> (<see cref="Week"/>).</summary>
    public void Weeks(int from, int to, IWearModel model)
    {
        for (var day = from; day <= to; day += 7)
        {
            Week(day, model);
        }
    }

    /// <summary>Advances to day <paramref name="day"/>, applies its readings and assesses the twin.</summary>
    public void Week(int day, IWearModel model, Func<string, bool>? keep = null)
    {
        _readings.Clear();
        device.Advance(OwnRulTraining.Start.AddDays(day), _readings);
        Dictionary<int, double>? kmByDay = null;
        foreach (var reading in _readings)
        {
            var metrics = reading.Metrics.Where(m => keep?.Invoke(m.Key) ?? true).Select(m => new MetricValue(m.Key, m.Value)).ToArray();
            if (metrics.Length > 0)
            {
                WearAssessor.ApplyReading(State, new ReadingRecord(reading.TimestampMs, 0, metrics.Length), metrics, ref kmByDay, own);
            }
        }

        WearAssessor.Assess(State, model, OwnRulTraining.Start.AddDays(day), own);
    }
}
