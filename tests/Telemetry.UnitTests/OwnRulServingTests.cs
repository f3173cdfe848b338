using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Telemetry.Grains.Devices;
using Telemetry.Ingest.Hosting;
using Telemetry.Grains.Ingest;
using Telemetry.Models.Learning;
using Telemetry.Models.Rul;
using Telemetry.Models.Simulation;
using Telemetry.Models.Wear;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// A brand's own train-rul model served to device twins (<see cref="OwnRulModel"/>, #15 part 4): the weekly rows a twin
/// keeps (<see cref="WeeklyRun"/>, the code of simulate-runs' rows), the remaining life it is served from them, and the
/// rows surviving the twin's store. The models are trained, as a brand would, on simulate-runs' files of other devices.
/// </summary>
public sealed class OwnRulServingTests(OwnRulTraining trained) : IClassFixture<OwnRulTraining>
{
    private static readonly DateTimeOffset Start = OwnRulTraining.Start;

    /// <summary>Eight bands of another seed, weekly until their end of life. Measured: the regression 13.5 cycles off on
    /// average, the curve fit (on capacity_mah, whose limit depends on the band's rating) 41.0, mean life minus age 43.5.</summary>
    [Theory]
    [InlineData(false, 0.5)]
    [InlineData(true, 1.0)]
    public void GeneratedBands_AreServedTheBrandsModel_AndItBeatsMeanLifeMinusAge(bool fitted, double ratio)
    {
        var own = OwnRulModel.Load(fitted ? trained.BandFit : trained.BandRegression, "band");
        var lives = File.ReadLines(trained.BandCsv).Skip(1).Select(l => l.Split(','))
            .GroupBy(f => f[0]).Select(g => double.Parse(g.Last()[1], CultureInfo.InvariantCulture)).ToList();
        var meanLife = lives.Average();
        var (served, naive, weeks) = (0.0, 0.0, 0);
        foreach (var band in OwnRulTraining.NewDevices<SimulatedBand>(8, seed: 77))
        {
            band.Start(Start);
            var twin = new OwnRulTwin(band, own);
            for (var day = 7; day <= 2500 && twin.TrueRemaining > 0; day += 7)
            {
                twin.Week(day, new RuleWearModel());
                if (twin.State.Wear?.ModelVersion == own.Version)
                {
                    served += Math.Abs(twin.State.Wear.RemainingCycles!.Value - twin.TrueRemaining);
                    naive += Math.Abs(Math.Max(0, meanLife - twin.State.ChargeCycles!.Value) - twin.TrueRemaining);
                    weeks++;
                }
            }

            // Served from the model's answer at the newest row, less the cycles used since.
            var run = twin.State.OwnRun!;
            var atRow = RulModel.Load(fitted ? trained.BandFit : trained.BandRegression).PredictLast(run.Table("b")!)[0].Estimate.Rul;
            Assert.Equal(Math.Round(Math.Max(0, atRow - (twin.State.ChargeCycles!.Value - run.Times[^1]))), twin.State.Wear!.RemainingCycles);
        }

        Assert.True(weeks > 100, $"{weeks} weeks served");
        Assert.True(served < ratio * naive, $"served by the brand's model: mean error {served / weeks:F1} cycles; mean life minus age: {naive / weeks:F1}");
    }

    [Fact]
    public void ATwinsRows_AreTheRowsSimulateRunsWritesForTheSameDevice()
    {
        var csv = Path.Combine(trained.Root, "rows-77.csv");
        using (var writer = new StreamWriter(csv))
        {
            RunToFailureExport.Write("band", 3, 77, 2500, writer);
        }

        var own = OwnRulModel.Load(trained.BandRegression, "band");
        var band = OwnRulTraining.NewDevices<SimulatedBand>(3, seed: 77).First(); // the export's first band of three
        band.Start(Start);
        var twin = new OwnRulTwin(band, own);
        for (var day = 7; day <= 2500 && twin.TrueRemaining > 0; day += 7)
        {
            twin.Week(day, new RuleWearModel());
        }

        // The export's rows of this band, as the twin keeps them: its first rows and its newest (bounded), the columns the
        // regression reads. The twin's newest week is still open (no reading of a later week has closed it).
        var header = File.ReadLines(csv).First().Split(',');
        var exported = File.ReadLines(csv).Skip(1).Select(l => l.Split(',')).Where(f => f[0] == band.Id)
            .Select(f => (Time: double.Parse(f[1], CultureInfo.InvariantCulture), Values: own.Columns.Select(c => double.Parse(f[Array.IndexOf(header, c)], CultureInfo.InvariantCulture)).ToArray()))
            .ToList();
        var run = twin.State.OwnRun!;
        var expected = exported.Take(run.Head).Concat(exported.Take(exported.Count - 1).Skip(run.Head).TakeLast(run.Tail)).ToList();
        Assert.Equal(expected.Select(e => e.Time), run.Times);
        Assert.Equal(expected.Select(e => e.Values), run.Rows);
        Assert.True(run.Count == run.Head + run.Tail, $"{run.Count} rows kept of {exported.Count}");
    }

    [Fact]
    public void AGeneratedShoe_IsServedTheBrandsRegression_WithThePaceAndWeightItsRowsDerive_AndNoOtherModelsDrivers()
    {
        var own = OwnRulModel.Load(trained.ShoeRegression, "shoe");
        var shoe = OwnRulTraining.NewDevices<SimulatedShoe>(1, seed: 78).Single();
        var twin = OwnRulTwin.Started(shoe, own);
        var learned = LearnedWearModel.Load(LearnedWearModel.DefaultDirectory);
        twin.Weeks(7, 70, learned);

        var run = twin.State.OwnRun!;
        Assert.Equal(own.Version, twin.State.Wear!.ModelVersion);
        Assert.StartsWith("own-shoe:shoe-regression.zip:", own.Version, StringComparison.Ordinal);
        Assert.Contains("pace_s_per_km", run.Columns);
        var pace = Array.IndexOf(run.Columns, "pace_s_per_km");
        Assert.All(run.Rows, r => Assert.InRange(r[pace], 180, 600));
        var kg = Array.IndexOf(run.Columns, "wearer_kg");
        Assert.True(kg < 0 || run.Rows.All(r => r[kg] == shoe.Birth.WearerKg), "wearer_kg is the birth's");
        var atRow = RulModel.Load(trained.ShoeRegression).PredictLast(run.Table("s")!)[0].Estimate;
        Assert.Equal(Math.Round(Math.Max(0, atRow.Rul - ((twin.State.DistanceM / 1000) - run.Times[^1])), 1), twin.State.Wear.RemainingKm);

        // The evidence of an alert names the brand's model, and gives no drivers: the wear model's would explain another figure.
        var evidence = WearAssessor.Assess(twin.State, learned, Start.AddDays(70), own)!.Value.Evidence();
        Assert.Contains(evidence, e => e.Key == "model_version" && e.Text == own.Version);
        Assert.DoesNotContain(evidence, e => e.Key == "drivers");
        Assert.Contains(WearAssessor.Assess(twin.State, learned, Start.AddDays(70))!.Value.Evidence(), e => e.Key == "drivers");
    }

    [Fact]
    public void ATwinsRows_SurviveTheStore_AndItIsServedTheSameAnswer()
    {
        var own = OwnRulModel.Load(trained.BandFit, "band");
        var band = OwnRulTraining.NewDevices<SimulatedBand>(1, seed: 79).Single();
        var twin = OwnRulTwin.Started(band, own);
        twin.Weeks(7, 140, new RuleWearModel());

        var loaded = OwnRulTraining.Stored(twin.State);

        var (before, after) = (twin.State.OwnRun!, loaded.OwnRun!);
        Assert.Equal(before.Times, after.Times);
        Assert.Equal(before.Rows, after.Rows);
        Assert.Equal(before.Sums.ToArray(), after.Sums.ToArray());
        Assert.Equal(before.Counts.ToArray(), after.Counts.ToArray());
        Assert.Equal((before.Week, before.WeekCycles, before.Head, before.Tail), (after.Week, after.WeekCycles, after.Head, after.Tail));
        var remaining = twin.State.Wear!.RemainingCycles;
        WearAssessor.Assess(loaded, new RuleWearModel(), Start.AddDays(140), own);
        Assert.Equal(remaining, loaded.Wear!.RemainingCycles);
        Assert.Equal(own.Version, loaded.Wear.ModelVersion);
    }

    [Fact]
    public void ATwinsRunKeptForAnotherModel_IsStartedAfresh_AndTheWearModelServesUntilItHasARow()
    {
        var fit = OwnRulModel.Load(trained.BandFit, "band");
        var regression = OwnRulModel.Load(trained.BandRegression, "band");
        var band = OwnRulTraining.NewDevices<SimulatedBand>(1, seed: 80).Single();
        var twin = OwnRulTwin.Started(band, fit);
        twin.Weeks(7, 70, new RuleWearModel());

        Assert.True(twin.State.OwnRun!.Count > 5);
        var swapped = new OwnRulTwin(band, regression);
        swapped.State.OwnRun = twin.State.OwnRun;
        swapped.Week(77, new RuleWearModel());

        Assert.Equal(regression.Columns, swapped.State.OwnRun!.Columns);
        Assert.Equal((0, false), (swapped.State.OwnRun.Count, swapped.State.OwnRun.FromNew)); // 70 days in: not new
        Assert.StartsWith("rules-", swapped.State.Wear!.ModelVersion, StringComparison.Ordinal);

        // A model no longer set (or none for the twin's kind): its rows are dropped, not kept for nobody.
        var unserved = new OwnRulTwin(band, own: null);
        unserved.State.OwnRun = twin.State.OwnRun;
        unserved.Week(84, new RuleWearModel());
        Assert.Null(unserved.State.OwnRun);
    }

    [Fact]
    public void AModelForAnotherTimeOrKind_OrNoModel_IsRefusedNamingTheSetting()
    {
        var refused = Assert.Throws<RunTableException>(() => OwnRulModel.Load(trained.ShoeRegression, "band"));
        Assert.Contains("trained with time 'km'; a band's rows are kept in cycles", refused.Message, StringComparison.Ordinal);
        Assert.Contains("not 'watch'", Assert.Throws<RunTableException>(() => OwnRulModel.Load(trained.BandFit, "watch")).Message, StringComparison.Ordinal);

        var options = new OwnRulOptions { Band = Path.Combine(trained.Root, "missing.zip") };
        var failure = new OwnRulOptionsValidator().Validate(null, options);
        Assert.True(failure.Failed);
        Assert.Contains("Models:Rul:Band: ", failure.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("missing.zip: no such model file", failure.FailureMessage, StringComparison.Ordinal);

        var notAModel = Path.Combine(trained.Root, "bands.csv");
        Assert.Contains("is not a model written by train-rul", new OwnRulOptionsValidator().Validate(null, new OwnRulOptions { Shoe = notAModel }).FailureMessage, StringComparison.Ordinal);
        Assert.True(new OwnRulOptionsValidator().Validate(null, new OwnRulOptions()).Succeeded);
        Assert.Null(new OwnRulOptions().Load().For("band"));
    }

    [Fact]
    public async Task TheSettings_GiveTheServiceTheModelsTheTwinsAreServed()
    {
        var data = Directory.CreateTempSubdirectory("telemetry-own-rul-").FullName;
        try
        {
            await using var app = Telemetry.Ingest.TelemetryApp.Build(["--Storage:DataDirectory", data, "--Models:Rul:Band", trained.BandFit]);

            var models = app.Services.GetRequiredService<OwnRulModels>();

            // The very models the start-up check loaded: the files are read once.
            Assert.Same(models, app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<OwnRulOptions>>().Value.Load());
            Assert.Null(models.Shoe);
            Assert.Equal(OwnRulModel.Load(trained.BandFit, "band").Version, models.Band!.Version);
            Assert.Equal(["capacity_mah"], models.Band.Columns);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public void TheOptions_LoadTheirFilesOnce_AndAgainForOtherPaths()
    {
        var copy = Path.Combine(trained.Root, "band-fit-copy.zip");
        File.Copy(trained.BandFit, copy, overwrite: true);
        var options = new OwnRulOptions { Band = copy };
        var first = options.Load();

        // Gone after the check: the service still gets the models checked, not a failure at a twin's first reading.
        File.Delete(copy);
        Assert.Same(first, options.Load());

        options.Band = trained.BandRegression;
        var other = options.Load();
        Assert.NotSame(first, other);
        Assert.Equal(OwnRulModel.Load(trained.BandRegression, "band").Version, other.Band!.Version);
    }

    [Fact]
    public async Task AnUnservableModel_StopsStartUp()
    {
        var data = Directory.CreateTempSubdirectory("telemetry-own-rul-").FullName;
        try
        {
            await using var app = Telemetry.Ingest.TelemetryApp.Build(["--Storage:DataDirectory", data, "--Models:Rul:Shoe", trained.BandFit]);

            var failure = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => app.StartAsync());

            Assert.Contains("Models:Rul:Shoe: ", failure.Message, StringComparison.Ordinal);
            Assert.Contains("trained with time 'cycles'; a shoe's rows are kept in km", failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public void WeeklyRun_MeansEachColumn_SkipsAWeekWithoutOne_AndKeepsTheFirstAndNewestRows()
    {
        var run = new WeeklyRun(shoe: true, ["impact_g", "pace_s_per_km", "wearer_kg"], head: 2, tail: 3, startKm: 100);
        run.Observe("impact_g", 8);
        run.Observe("impact_g", 10);
        run.Observe("impact_g", double.NaN); // never a row's value
        run.Observe("distance_m", 5000);
        run.Observe("duration_s", 1500);
        Assert.Equal(105.0, run.CloseWeek(wearerKg: 72, ratedMah: null));
        Assert.Equal([9.0, 300, 72], run.Rows[0]);

        run.Observe("impact_g", 9); // no distance: no pace, no row (a week without every column says nothing)
        Assert.Null(run.CloseWeek(72, null));
        run.Observe("distance_m", 1000);
        run.Observe("duration_s", 400);
        Assert.Null(run.CloseWeek(null, null)); // and no impact: none either, though the km count
        Assert.Equal(106, run.Km);

        for (var week = 0; week < 10; week++)
        {
            run.Observe("impact_g", week);
            run.Observe("distance_m", 1000);
            run.Observe("duration_s", 1000.0 / 3);
            run.CloseWeek(72, null);
        }

        Assert.Equal([105.0, 107, 114, 115, 116], run.Times);
        Assert.Equal([9.0, 0, 7, 8, 9], run.Rows.Select(r => r[0]));
        Assert.Equal(333.333, run.Rows[^1][1]); // as the export writes it: 6 significant digits

        // A birth without the wearer's weight gives no row: a 0 kg wearer is not one the model was trained on.
        run.Observe("impact_g", 9);
        run.Observe("distance_m", 1000);
        run.Observe("duration_s", 300);
        Assert.Null(run.CloseWeek(null, null));
        Assert.Equal(5, run.Count);
    }

    [Fact]
    public void WeeklyRun_Restored_EndsItsRowsAtOneThatCouldNotHaveBeenWritten()
    {
        string[] columns = ["capacity_mah"];
        double[][] rows = [[300], [299], [298], [double.NaN], [296]];

        var run = WeeklyRun.Restore(false, columns, 10, 104, 0, 3, 0, 0, 41, [1, 2, 3, 4, 5], rows, [590], [2]);
        Assert.Equal([1.0, 2, 3], run.Times);
        Assert.Equal((3, 41.0, 590.0, 2), (run.Week, run.WeekCycles, run.Sums[0], run.Counts[0]));

        Assert.Equal([1.0, 3], WeeklyRun.Restore(false, columns, 10, 104, 0, 0, 0, 0, 0, [1, 3, 2], rows, null, null).Times);
        Assert.Equal(0, WeeklyRun.Restore(false, columns, 10, 104, 0, 0, 0, 0, 0, [1], [[300, 1]], null, null).Count);
        var damaged = WeeklyRun.Restore(false, columns, 0, -5, double.NaN, 0, double.PositiveInfinity, 0, double.NaN, null, null, [1, 2], [-1]);
        Assert.Equal((1, 1, 0.0, 0.0, 0.0), (damaged.Head, damaged.Tail, damaged.Km, damaged.WeekKm, damaged.Sums[0]));
        Assert.Equal(0, damaged.Counts[0]);
        Assert.Equal(1, WeeklyRun.Restore(false, columns, 1, 1, 0, 0, 0, 0, 0, [1, 2, 3, 4], [[1], [2], [3], [4]], null, null).Times[0]);
        Assert.Equal(2, WeeklyRun.Restore(false, columns, 1, 1, 0, 0, 0, 0, 0, [1, 2, 3, 4], [[1], [2], [3], [4]], null, null).Count);
    }

    /// <summary>A new battery (or band, shoe, insole) starts the rows afresh: the model reads a life from its first row.</summary>
    [Theory]
    [InlineData("battery")]
    [InlineData("band")]
    public void AReplacedPart_StartsTheRowsAfresh_AndTheWearModelServesUntilItsFirstRow(string part)
    {
        var own = OwnRulModel.Load(trained.BandFit, "band");
        var band = OwnRulTraining.NewDevices<SimulatedBand>(1, seed: 81).Single();
        var twin = OwnRulTwin.Started(band, own);
        twin.Weeks(7, 140, new RuleWearModel());

        Assert.Equal(own.Version, twin.State.Wear!.ModelVersion);

        PartReplacement.Replace(twin.State, new AlertStepper(band.Id, twin.State), part, Start.AddDays(141), "agent-7", null, []);
        twin.Week(147, new RuleWearModel());

        Assert.Equal(0, twin.State.OwnRun!.Count);
        Assert.NotEqual(own.Version, twin.State.Wear?.ModelVersion);
        twin.Week(154, new RuleWearModel());
        twin.Week(161, new RuleWearModel());
        Assert.Equal(own.Version, twin.State.Wear!.ModelVersion);
        Assert.True(twin.State.OwnRun.Count is 1 or 2, $"{twin.State.OwnRun.Count} rows since the new part");
    }

    /// <summary>Hostile values: a mean that overflows, or a time that does, is no row; values that are not numbers never count.</summary>
    [Fact]
    public void WeeklyRun_GivesNoRowForAMeanOrATimeThatOverflows()
    {
        var run = new WeeklyRun(shoe: false, ["my_metric"], head: 10, tail: 10);
        run.Observe("charge_cycles", 10);
        run.Observe("my_metric", double.MaxValue);
        run.Observe("my_metric", double.MaxValue);
        Assert.Null(run.CloseWeek(null, null));

        run.Observe("charge_cycles", double.PositiveInfinity);
        run.Observe("my_metric", double.NaN);
        Assert.Null(run.CloseWeek(null, null));

        run.Observe("charge_cycles", 20);
        run.Observe("my_metric", -1e300);
        Assert.Equal(20.0, run.CloseWeek(null, null));
        Assert.Equal([-1e300], run.Rows[0]);

        var shoe = new WeeklyRun(shoe: true, ["impact_g"], head: 1, tail: 1, startKm: double.MaxValue);
        shoe.Observe("distance_m", double.MaxValue);
        shoe.Observe("impact_g", 9);
        Assert.Null(shoe.CloseWeek(null, null));
    }

    /// <summary>A new battery's run, in an open week without a charge count yet, and a run kept for a device in use, each
    /// through the store: origin, from new or not, and the open week's "no count yet" come back as written.</summary>
    [Fact]
    public void ARenewedRunAndOneNotFromNew_SurviveTheStore()
    {
        var own = OwnRulModel.Load(trained.BandFit, "band");
        var renewed = own.NewRun(week: 12, startKm: 0).Renewed(origin: 340);
        renewed.Observe("capacity_mah", 498);
        var state = new DeviceState { OwnRun = renewed };

        var loaded = OwnRulTraining.Stored(state).OwnRun!;

        Assert.Equal((340.0, true, 12, -1.0, 0), (loaded.Origin, loaded.FromNew, loaded.Week, loaded.WeekCycles, loaded.Count));
        Assert.Equal((498.0, 1), (loaded.Sums[0], loaded.Counts[0]));
        state.OwnRun = own.NewRun(week: 3, startKm: 0, fromNew: false);
        Assert.False(OwnRulTraining.Stored(state).OwnRun!.FromNew);
    }

    /// <summary>A band whose twin's first readings carry no charge count is not taken as new before its first count: a
    /// band 600 cycles in is then served the wear model, and one a few cycles in is served the brand's.</summary>
    [Theory]
    [InlineData(600, false)]
    [InlineData(4, true)]
    public void ABandsNewnessWaitsForItsFirstChargeCount(double cycles, bool fromNew)
    {
        var own = OwnRulModel.Load(trained.BandFit, "band");
        var state = new DeviceState { Birth = new DeviceBirth { Kind = "band", Model = "M1", Batch = "B1", Firmware = "1.0.0", RatedCapacityMah = 300 } };
        var t0 = Start.ToUnixTimeMilliseconds();
        Dictionary<int, double>? kmByDay = null;
        MetricValue[] sample = [new("temp_c", 31), new("capacity_mah", 290)];
        WearAssessor.ApplyReading(state, new ReadingRecord(t0, 0, sample.Length), sample, ref kmByDay, own);
        Assert.True(state.OwnRun!.FromNew); // until its first count, kept as from new (the week's samples count)

        MetricValue[] summary = [new("charge_cycles", cycles), new("capacity_mah", 290)];
        WearAssessor.ApplyReading(state, new ReadingRecord(t0 + 3_600_000, 0, summary.Length), summary, ref kmByDay, own);

        Assert.Equal(fromNew, state.OwnRun!.FromNew);
    }

    /// <summary>A model retrained on the same columns with another window keeps the twins' rows (as many as it reads) and
    /// whether they are from new: a fleet is not sent back to the wear model by a retrained model.</summary>
    [Fact]
    public void AModelRetrainedWithAnotherWindow_KeepsTheTwinsRows()
    {
        var own = OwnRulModel.Load(trained.BandRegression, "band");
        var band = OwnRulTraining.NewDevices<SimulatedBand>(1, seed: 82).Single();
        var twin = OwnRulTwin.Started(band, own);
        twin.Weeks(7, 280, new RuleWearModel());

        var before = twin.State.OwnRun!;
        var wider = Path.Combine(trained.Root, "band-regression-window-30.zip");
        File.Copy(trained.BandRegression, wider, overwrite: true);
        RulModelFile.Rewrite(wider, json => json["Window"] = 30);
        var retrained = OwnRulModel.Load(wider, "band");
        Assert.False(retrained.Fits(before));

        var again = new OwnRulTwin(band, retrained);
        again.State.OwnRun = before;
        again.State.ChargeCycles = twin.State.ChargeCycles;
        again.Week(287, new RuleWearModel());

        var after = again.State.OwnRun!;
        Assert.True(retrained.Fits(after));
        Assert.True(after.FromNew);
        Assert.Subset(after.Times.ToHashSet(), before.Times.ToHashSet()); // every row kept, first and newest alike
        Assert.Equal(retrained.Version, again.State.Wear!.ModelVersion);
    }

    /// <summary>A battery "replaced" on a shoe (the service call takes any part) does not touch the shoe's rows.</summary>
    [Fact]
    public void APartOfAnotherKind_DoesNotRenewTheRows()
    {
        var own = OwnRulModel.Load(trained.ShoeRegression, "shoe");
        var shoe = OwnRulTraining.NewDevices<SimulatedShoe>(1, seed: 83).Single();
        var twin = OwnRulTwin.Started(shoe, own);
        twin.Weeks(7, 56, new RuleWearModel());

        var rows = twin.State.OwnRun!.Count;
        PartReplacement.Replace(twin.State, new AlertStepper(shoe.Id, twin.State), "battery", Start.AddDays(57), "agent-7", null, []);

        Assert.Equal(rows, twin.State.OwnRun!.Count);
        Assert.True(rows > 3);
    }
}
