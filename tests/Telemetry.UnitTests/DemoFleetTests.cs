using Telemetry.Ingest.Simulation;
using Telemetry.Models.Quality;
using Telemetry.Models.Simulation;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// The demo's fault schedule (<c>--simulate 1000</c>, the README's command): what the service can learn within
/// the backfill must flag the defective batch of every model and no healthy batch. What it can learn: the
/// simulated after-sales cases dated inside the backfill, and water ingress (the detector sees it within a few
/// 15-minute samples of its onset; a day is allowed). A live run of the demo confirms it end to end
/// (docs/quality.md).
/// </summary>
public sealed class DemoFleetTests
{
    private const int DemoDevices = 1000;

    [Fact]
    public void DefaultSeed_FlagsTheDefectiveBatchOfEveryModel_AndNoHealthyBatch()
    {
        var outcome = Assess(new SimulationOptions().Seed);

        Assert.Equal(4, outcome.Count(o => o.Defective));
        Assert.All(outcome.Where(o => o.Defective), o => Assert.True(o.Elevated, $"{o.Model}/{o.Batch} is not elevated"));
        Assert.All(outcome.Where(o => !o.Defective), o => Assert.False(o.Elevated, $"healthy {o.Model}/{o.Batch} is elevated"));
    }

    [Fact]
    public void AcrossSeeds_NoHealthyBatchIsFlagged_AndNearlyEveryDefectiveOneIs()
    {
        var outcomes = Enumerable.Range(1, 40).SelectMany(Assess).ToList();

        Assert.DoesNotContain(outcomes, o => !o.Defective && o.Elevated);
        var defective = outcomes.Where(o => o.Defective).ToList();
        Assert.Equal(160, defective.Count);
        // Measured: 155 of 160; the misses sit at "watch". At least 90% must be elevated.
        Assert.InRange(defective.Count(o => o.Elevated), 144, 160);
    }

    private static List<(string Model, string Batch, bool Defective, bool Elevated)> Assess(int seed)
    {
        var settings = new SimulationOptions();
        var start = new DateTimeOffset(2026, 10, 25, 0, 0, 0, TimeSpan.Zero);
        var end = start + settings.Backfill;
        var fleet = FleetGenerator.Create(DemoDevices, seed, FleetFaults.Default with { OnsetWithin = settings.FaultsWithin });
        foreach (var device in fleet)
        {
            device.Start(start);
        }

        var seen = SimulatedAfterSales.Cases(fleet, seed).Where(c => c.At <= end).Select(c => (c.Device, c.FailureMode))
            .Concat(fleet.Where(d => d.Fault?.Mode == FaultMode.WaterIngress && d.FaultOnset + TimeSpan.FromDays(1) <= end).Select(d => (d.Id, "water_ingress")))
            .ToHashSet();
        var outcome = new List<(string, string, bool, bool)>();
        foreach (var model in fleet.GroupBy(d => d.Birth.Model))
        {
            string[] modes = model.First().Birth.Kind == DeviceKind.Shoe ? ["delamination", "premature_collapse"] : ["water_ingress", "battery_fading_fast"];
            var batches = model.GroupBy(d => d.Birth.Batch).ToList();
            foreach (var batch in batches)
            {
                var others = batches.Where(b => b.Key != batch.Key).SelectMany(b => b).ToList();
                var elevated = modes.Any(mode => DefectStatistics.Assess(
                    batch.Count(), batch.Count(d => seen.Contains((d.Id, mode))),
                    others.Count, others.Count(d => seen.Contains((d.Id, mode)))).Status == BatchStatus.Elevated);
                outcome.Add((model.Key, batch.Key, batch.Key == FleetGenerator.DefectiveBatch, elevated));
            }
        }

        return outcome;
    }
}
