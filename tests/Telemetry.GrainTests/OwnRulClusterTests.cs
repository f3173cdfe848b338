using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Ingest;
using Telemetry.Models.Cli;
using Telemetry.Models.Rul;
using Xunit;

namespace Telemetry.GrainTests;

/// <summary>
/// A brand's own train-rul model served by the device grains of a two-silo cluster (#15 part 4): the band's remaining
/// cycles come from it once the twin has a week of rows, and its rows move with the twin when its silo stops.
/// </summary>
public sealed class OwnRulClusterTests : IDisposable
{
    private const long WeekMs = 7 * 86_400_000L;

    private readonly string _root = Directory.CreateTempSubdirectory("own-rul-cluster-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>Six bands' returns, as a brand exports them: weekly rows, 10 cycles a week, capacity fading linearly
    /// from 300 mAh to 240 mAh in 100 to 150 cycles. The model: train-rul's curve on capacity.</summary>
    private async Task<OwnRulModel> TrainAsync()
    {
        var csv = Path.Combine(_root, "returns.csv");
        using (var writer = new StreamWriter(csv))
        {
            await writer.WriteLineAsync("device,cycles,capacity_mah,temp_c");
            foreach (var life in new[] { 100, 110, 120, 130, 140, 150 })
            {
                for (var cycles = 10; cycles <= life; cycles += 10)
                {
                    await writer.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"r{life},{cycles},{300 - (60.0 * cycles / life)},{30 + (cycles % 3)}"));
                }
            }
        }

        var model = Path.Combine(_root, "band.zip");
        var error = new StringWriter();
        var code = await ModelCommands.RunAsync(["train-rul", "--csv", csv, "--unit", "device", "--time", "cycles", "--method", "curve", "--candidates", "1", "--out", model], new StringWriter(), error);
        Assert.True(code == 0, error.ToString());
        return OwnRulModel.Load(model, "band");
    }

    private static readonly DeviceBirth Band = new() { Kind = "band", Model = "Pulse-2", Batch = "B-07", Firmware = "1.0.0", RatedCapacityMah = 300 };

    private static TelemetryBatch Week(uint week, long startMs, DeviceBirth? birth = null) => new()
    {
        Birth = birth,
        TaggedWith = DeviceBirth.TagStamp(birth),
        Messages = [new BatchMessage(new MessageKey("b1", week), 0, 1, 0)],
        Readings = [new ReadingRecord(startMs + (week * WeekMs), 0, 2)],
        // A band wearing out in 120 cycles, 10 cycles a week.
        Metrics = [new MetricValue("charge_cycles", 10 * (week + 1)), new MetricValue("capacity_mah", 300 - (0.5 * 10 * (week + 1)))],
    };

    [Fact]
    public async Task ABandsRemainingCycles_ComeFromTheBrandsModel_AndItsRowsMoveWithTheTwin()
    {
        var own = await TrainAsync();
        await using var cluster = await GrainCluster.StartAsync(configure: silo => silo.Services.AddSingleton(new OwnRulModels(band: own)));
        var band = cluster.Grains.GetGrain<IDeviceGrain>("band-own-rul");
        var startMs = DateTimeOffset.UtcNow.AddDays(-70).ToUnixTimeMilliseconds();

        await band.IngestAsync(Week(0, startMs, Band));
        Assert.NotEqual(own.Version, (await band.GetSnapshotAsync())!.Wear?.ModelVersion); // no row yet: the wear model's
        for (var week = 1u; week < 6; week++)
        {
            await band.IngestAsync(Week(week, startMs));
        }

        var before = (await band.GetSnapshotAsync())!.Wear!;
        Assert.Equal(own.Version, before.ModelVersion);
        // 60 cycles used of a 120-cycle life, the newest closed row at 50: about 60 left, less the 10 since that row.
        Assert.InRange(before.RemainingCycles!.Value, 40, 80);

        await cluster.Cluster.StopSiloAsync(cluster.SiloOf(band.GetGrainId()));
        await band.IngestAsync(Week(6, startMs));

        // Still the brand's model: a twin whose rows were lost would start them afresh and have none this week.
        var after = (await band.GetSnapshotAsync())!.Wear!;
        Assert.Equal(own.Version, after.ModelVersion);
        Assert.True(after.RemainingCycles < before.RemainingCycles, $"{after.RemainingCycles} cycles left after a week's 10, {before.RemainingCycles} before");
    }
}
