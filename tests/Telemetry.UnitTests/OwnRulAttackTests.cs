using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Telemetry.Grains.Devices;
using Telemetry.Ingest.Hosting;
using Telemetry.Grains.Ingest;
using Telemetry.Models.Rul;
using Telemetry.Models.Simulation;
using Telemetry.Models.Wear;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>Attacks on a brand's own RUL model served to device twins (#15 part 4).</summary>
public sealed class OwnRulAttackTests(OwnRulTraining trained) : IClassFixture<OwnRulTraining>
{
    private static readonly DateTimeOffset Start = OwnRulTraining.Start;

    private static void Apply(DeviceState state, OwnRulModel? own, long ts, params (string Name, double Value)[] values)
    {
        var metrics = values.Select(v => new MetricValue(v.Name, v.Value)).ToArray();
        Dictionary<int, double>? kmByDay = null;
        WearAssessor.ApplyReading(state, new ReadingRecord(ts, 0, metrics.Length), metrics, ref kmByDay, own);
    }

    /// <summary>Units of a run-to-failure CSV: times and the values of <paramref name="columns"/>.</summary>
    private static List<(string Unit, double[] Times, double[][] Rows)> Units(string csv, string[] columns)
    {
        var header = File.ReadLines(csv).First().Split(',');
        var index = columns.Select(c => Array.IndexOf(header, c)).ToArray();
        Assert.DoesNotContain(-1, index);
        return [.. File.ReadLines(csv).Skip(1).Select(l => l.Split(',')).GroupBy(f => f[0]).Select(g => (
            g.Key,
            g.Select(f => double.Parse(f[1], CultureInfo.InvariantCulture)).ToArray(),
            g.Select(f => index.Select(i => double.Parse(f[i], CultureInfo.InvariantCulture)).ToArray()).ToArray()))];
    }

    private static WeeklyRun RunOf(OwnRulModel own, double[] times, double[][] rows) =>
        WeeklyRun.Restore(own.Kind == "shoe", own.Columns, own.Head, own.Tail, 0, 0, 0, 0, 0, times, rows, null, null);

    private string Tampered(string source, string name, Action<JsonObject> change)
    {
        var path = Path.Combine(trained.Root, name);
        File.Copy(source, path, overwrite: true);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Update);
        var entry = zip.GetEntry("telemetry-rul.json")!;
        JsonObject json;
        using (var reader = new StreamReader(entry.Open()))
        {
            json = JsonNode.Parse(reader.ReadToEnd())!.AsObject();
        }

        change(json);
        entry.Delete();
        using var writer = new StreamWriter(zip.CreateEntry("telemetry-rul.json").Open());
        writer.Write(json.ToJsonString());
        return path;
    }

    // ---------------------------------------------------------------- bands: a week without a charge summary

    /// <summary>A band week whose readings carry the model's columns but no charge_cycles (no charge that week) must not
    /// give a row at age 0 cycles: its rows' times go back, the model's "used since" becomes every cycle the band has,
    /// and the store drops every row after it.</summary>
    [Fact]
    public void ABandWeekWithoutChargeCycles_NeverGivesARowThatGoesBackInTime()
    {
        var own = OwnRulModel.Load(trained.BandRegression, "band");
        Assert.DoesNotContain("charge_cycles", own.Columns);
        var band = OwnRulTraining.NewDevices<SimulatedBand>(1, seed: 91).Single();
        band.Start(Start);
        var twin = new OwnRulTwin(band, own);
        var day = 7;
        for (; day <= 140; day += 7)
        {
            twin.Week(day, new RuleWearModel());
        }

        var before = twin.State.Wear!.RemainingCycles!.Value; // two weeks use about 12 cycles
        Assert.Equal(own.Version, twin.State.Wear.ModelVersion);
        twin.Week(day += 7, new RuleWearModel(), keep: m => m != "charge_cycles");
        twin.Week(day += 7, new RuleWearModel());

        var run = twin.State.OwnRun!;
        Assert.True(twin.State.Wear!.RemainingCycles >= before - 40 && twin.State.Wear.RemainingCycles <= before + 10, $"served {twin.State.Wear.RemainingCycles} cycles, two weeks after {before}; row times: {string.Join(", ", run.Times)}");
        Assert.True(run.Times.Zip(run.Times.Skip(1)).All(p => p.Second >= p.First), $"row times: {string.Join(", ", run.Times)}");
    }

    /// <summary>One absurd charge count (the uplink allows up to 1,000,000) must not end a band's rows or move what it is
    /// served: the twin ignores it, and goes on exactly as a twin that never saw it.</summary>
    [Fact]
    public void AnAbsurdChargeCount_ChangesNothingTheTwinServes()
    {
        var own = OwnRulModel.Load(trained.BandRegression, "band");
        var (clean, attacked) = (OwnRulTwin.Started(OwnRulTraining.NewDevices<SimulatedBand>(1, seed: 97).Single(), own),
            OwnRulTwin.Started(OwnRulTraining.NewDevices<SimulatedBand>(1, seed: 97).Single(), own));
        clean.Weeks(7, 70, new RuleWearModel());
        attacked.Weeks(7, 70, new RuleWearModel());
        MetricValue[] absurd = [new("charge_cycles", 1_000_000)];
        Dictionary<int, double>? kmByDay = null;
        var signals = WearAssessor.ApplyReading(attacked.State, new ReadingRecord(attacked.State.LastReadingMs!.Value, 0, 1), absurd, ref kmByDay, own);

        clean.Weeks(77, 140, new RuleWearModel());
        attacked.Weeks(77, 140, new RuleWearModel());

        Assert.True(signals.ChargeCountIgnored);
        Assert.True(attacked.State.OwnRun!.FromNew);
        Assert.Equal(clean.State.ChargeCycles, attacked.State.ChargeCycles);
        Assert.Equal(clean.State.OwnRun!.Times, attacked.State.OwnRun.Times);
        Assert.Equal(clean.State.Wear!.RemainingCycles, attacked.State.Wear!.RemainingCycles);
        Assert.Equal(own.Version, attacked.State.Wear.ModelVersion);
    }

    /// <summary>The rows a twin wrote itself come back whole from its store.</summary>
    [Fact]
    public void ABandRunWithAChargelessWeek_SurvivesTheStoreWhole()
    {
        var own = OwnRulModel.Load(trained.BandFit, "band");
        var band = OwnRulTraining.NewDevices<SimulatedBand>(1, seed: 92).Single();
        var twin = OwnRulTwin.Started(band, own);
        for (var day = 7; day <= 140; day += 7)
        {
            twin.Week(day, new RuleWearModel(), keep: m => day != 70 || m != "charge_cycles");
        }

        var loaded = OwnRulTraining.Stored(twin.State);
        Assert.Equal(twin.State.OwnRun!.Count, loaded.OwnRun!.Count);
        WearAssessor.Assess(loaded, new RuleWearModel(), Start.AddDays(140), own);
        Assert.Equal(twin.State.Wear!.RemainingCycles, loaded.Wear!.RemainingCycles);
    }

    /// <summary>A band whose charge counter is reset (firmware update, service) sends a lower count: no row goes back.</summary>
    [Fact]
    public void ABandWhoseChargeCounterGoesBack_NeverGivesARowThatGoesBackInTime()
    {
        var run = new WeeklyRun(shoe: false, ["capacity_mah"], head: 10, tail: 10);
        run.Observe("charge_cycles", 300);
        run.Observe("capacity_mah", 450);
        run.CloseWeek(null, 500);
        run.Observe("charge_cycles", 2);
        run.Observe("capacity_mah", 449);
        Assert.Null(run.CloseWeek(null, 500));

        // The battery's age is no longer known: its rows end, and later weeks give none (the wear model serves).
        Assert.Equal((0, false), (run.Count, run.FromNew));
        run.Observe("charge_cycles", 400);
        run.Observe("capacity_mah", 440);
        run.CloseWeek(null, 500);
        Assert.Equal((1, false), (run.Count, run.FromNew)); // a row is kept, but a run not from new is never served

        // A counter below the origin of a new battery (reset at the swap) is no row at a negative age either.
        var renewed = run.Renewed(origin: 400);
        renewed.Observe("charge_cycles", 3);
        renewed.Observe("capacity_mah", 499);
        Assert.Null(renewed.CloseWeek(null, 500));
        Assert.False(renewed.FromNew);
    }

    // ---------------------------------------------------------------- tampered model files

    /// <summary>A model file whose window is absurd must be refused at load (start-up), not fail every reading of every twin.</summary>
    [Fact]
    public void AModelWithAnAbsurdWindow_IsRefusedAtLoad_NotAtEveryReading()
    {
        var path = Tampered(trained.BandRegression, "window.zip", j => j["Window"] = int.MaxValue);
        OwnRulModel own;
        try
        {
            own = OwnRulModel.Load(path, "band");
        }
        catch (RunTableException)
        {
            return; // refused, naming the file: fine
        }

        var state = new DeviceState { Birth = new DeviceBirth { Kind = "band", Model = "M1", Batch = "B1", Firmware = "1.0.0" } };
        var ex = Record.Exception(() => Apply(state, own, Start.ToUnixTimeMilliseconds(), ("charge_cycles", 1), ("capacity_mah", 400)));
        Assert.Null(ex);
    }

    /// <summary>A model whose first rows (or window) are absurd must not make a twin's run grow without bound.</summary>
    [Theory]
    [InlineData("NormalizeFirst", int.MaxValue)]
    [InlineData("NormalizeFirst", 100_000_000)]
    [InlineData("Window", 100_000_000)]
    public void AModelWithAbsurdRowsKept_IsRefused_OrKeepsABoundedRun(string field, int value)
    {
        var path = Tampered(trained.BandRegression, $"{field}-{value}.zip", j => j[field] = value);
        OwnRulModel own;
        try
        {
            own = OwnRulModel.Load(path, "band");
        }
        catch (RunTableException)
        {
            return;
        }

        Assert.InRange((long)own.Head + own.Tail, 2, 100_000);
    }

    /// <summary>A model reading one column twice (Kept with a repeat; train-rul scores it fine) must still get rows, or be refused.</summary>
    [Fact]
    public void AModelKeepingAColumnTwice_StillGetsRows_OrIsRefused()
    {
        var kept = 0;
        var path = Tampered(trained.BandRegression, "kept-twice.zip", j =>
        {
            kept = j["Kept"]!.AsArray()[0]!.GetValue<int>();
            j["Kept"] = new JsonArray(kept, kept);
        });
        OwnRulModel own;
        try
        {
            own = OwnRulModel.Load(path, "band");
        }
        catch (RunTableException)
        {
            return;
        }

        var run = own.NewRun(0, 0);
        run.Observe("charge_cycles", 10);
        foreach (var column in own.Columns.Distinct())
        {
            run.Observe(column, 400);
        }

        Assert.NotNull(run.CloseWeek(null, 500));
    }

    /// <summary>A model written before train-rul recorded its time column could be a shoe's served to bands (never a row)
    /// or the other way round: refused for either kind, asking for it to be trained again.</summary>
    [Fact]
    public void AModelWithoutItsTime_IsRefusedForEitherKind()
    {
        var path = Tampered(trained.ShoeRegression, "old-shoe.zip", j => j.Remove("Time"));
        Assert.Null(RulModel.Load(path).Time);

        foreach (var kind in new[] { "shoe", "band" })
        {
            Assert.Contains("before train-rul recorded its time column", Assert.Throws<RunTableException>(() => OwnRulModel.Load(path, kind)).Message, StringComparison.Ordinal);
        }
    }

    /// <summary>A band model whose time was relabelled km (or a brand's mislabelled export) would be served to shoes, which
    /// never send its columns: start-up refuses it, naming the setting and the column.</summary>
    [Fact]
    public void ABandModelLabelledKm_IsRefusedForShoesAtStartUp()
    {
        var path = Tampered(trained.BandRegression, "band-as-km.zip", j => j["Time"] = "km");
        Assert.Equal("shoe", OwnRulModel.Load(path, "shoe").Kind); // the file alone cannot tell

        var failure = new OwnRulOptionsValidator().Validate(null, new OwnRulOptions { Shoe = path });

        Assert.True(failure.Failed);
        Assert.Contains("Models:Rul:Shoe: the model reads 'capacity_mah', which only a band sends", failure.FailureMessage, StringComparison.Ordinal);
        Assert.True(new OwnRulOptionsValidator().Validate(null, new OwnRulOptions { Band = trained.BandRegression, Shoe = trained.ShoeRegression }).Succeeded);
    }

    /// <summary>A regression file whose ML.NET model was stripped (only its metadata left) stops start-up naming the setting.</summary>
    [Fact]
    public void ARegressionWithoutItsMlNetModel_IsRefusedNamingTheSetting()
    {
        var path = Path.Combine(trained.Root, "stripped.zip");
        File.Copy(trained.BandRegression, path, overwrite: true);
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Update))
        {
            foreach (var entry in zip.Entries.Where(e => e.FullName != "telemetry-rul.json").ToList())
            {
                entry.Delete();
            }
        }

        var result = new OwnRulOptionsValidator().Validate(null, new OwnRulOptions { Band = path });
        Assert.True(result.Failed);
        Assert.Contains("Models:Rul:Band: ", result.FailureMessage, StringComparison.Ordinal);
    }

    // ---------------------------------------------------------------- concurrency

    /// <summary>One model serves every twin of its kind at once: answers under contention equal those given one at a time.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ManyTwinsAtOnce_AreServedTheAnswersTheyGetOneAtATime(bool fit)
    {
        var own = OwnRulModel.Load(fit ? trained.BandFit : trained.BandRegression, "band");
        var units = Units(trained.BandCsv, own.Columns);
        // Every prefix of every unit: a run of a twin at that week.
        var cases = units.SelectMany(u => Enumerable.Range(1, u.Times.Length).Where(n => n % 7 == 1).Select(n => (u.Times[..n], u.Rows[..n]))).ToList();
        var expected = cases.Select(c => own.Estimate(RunOf(own, c.Item1, c.Item2), c.Item1[^1])!.Value).ToArray();

        var wrong = new ConcurrentBag<string>();
        var errors = new ConcurrentBag<Exception>();
        Parallel.For(0, cases.Count * 6, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var k = i % cases.Count;
            try
            {
                var got = own.Estimate(RunOf(own, cases[k].Item1, cases[k].Item2), cases[k].Item1[^1])!.Value;
                if (got != expected[k])
                {
                    wrong.Add($"case {k}: {got} != {expected[k]}");
                }
            }
            catch (Exception e)
            {
                errors.Add(e);
            }
        });

        Assert.Empty(errors);
        Assert.Empty(wrong);
    }

    // ---------------------------------------------------------------- train/serve skew

    /// <summary>The twin keeps only its first and newest rows: the answer at its newest row must equal the model's answer
    /// on every row of the unit (what train-rul scores).</summary>
    [Theory]
    [InlineData("band-regression")]
    [InlineData("band-fit")]
    [InlineData("shoe-regression")]
    public void AKeptRun_IsServedTheAnswerOfItsWholeRun(string which)
    {
        var (path, kind, csv) = which switch
        {
            "band-regression" => (trained.BandRegression, "band", trained.BandCsv),
            "band-fit" => (trained.BandFit, "band", trained.BandCsv),
            _ => (trained.ShoeRegression, "shoe", trained.ShoeCsv),
        };
        var own = OwnRulModel.Load(path, kind);
        var model = RulModel.Load(path);
        var trimmed = 0;
        var differences = new List<string>();
        foreach (var (unit, times, rows) in Units(csv, own.Columns))
        {
            for (var n = own.Head + own.Tail + 1; n <= times.Length; n += 3)
            {
                trimmed++;
                var whole = model.PredictLast(new RunTable(own.Columns, [new RunTable.Unit(unit, times[..n], rows[..n])], n))[0].Estimate;
                var served = own.Estimate(RunOf(own, times[..n], rows[..n]), times[n - 1])!.Value;
                if (Math.Abs(whole.Rul - served.Rul) > 0.5 || Math.Abs(whole.Low - served.Low) > 0.5 || Math.Abs(whole.High - served.High) > 0.5)
                {
                    differences.Add($"{unit} at row {n}: whole {whole}, served {served}");
                }
            }
        }

        Assert.True(trimmed > 0, "no unit longer than the rows a twin keeps: nothing tested");
        Assert.True(differences.Count == 0, $"{differences.Count} of {trimmed}: {string.Join("; ", differences.Take(5))}");
    }

    /// <summary>Rows that start part-way through a life are read by a model trained on whole lives as a new unit's (age 0,
    /// the baseline of its first rows), and its answers are far off (measured here, from half-way: the regression 194 cycles
    /// off against 4 from birth, the curve fit 247 against 54). So a twin whose device is in use when the model starts is
    /// served the wear model, keeping no rows, until a new part starts them from new.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ATwinWhoseRowsWouldStartPartWay_IsServedTheWearModel_UntilANewPart(bool fit)
    {
        var own = OwnRulModel.Load(fit ? trained.BandFit : trained.BandRegression, "band");
        var (whole, partWay, count) = (0.0, 0.0, 0);
        foreach (var (_, times, rows) in Units(trained.BandCsv, own.Columns).Where(u => u.Times.Length >= 50))
        {
            var n = times.Length - 8; // eight weeks before its end
            var truth = times[^1] - times[n - 1];
            var from = n / 2; // rows from half-way through its life
            whole += Math.Abs(own.Estimate(RunOf(own, times[..n], rows[..n]), times[n - 1])!.Value.Rul - truth);
            partWay += Math.Abs(own.Estimate(RunOf(own, times[from..n], rows[from..n]), times[n - 1])!.Value.Rul - truth);
            count++;
        }

        Assert.True(count >= 10, $"{count} units");
        Assert.True(partWay > 2 * whole, $"mean error from birth {whole / count:F1} cycles, from half-way {partWay / count:F1}");

        // A band 150 days in when the model starts: no rows, the wear model's answer.
        var band = OwnRulTraining.NewDevices<SimulatedBand>(1, seed: 93).Single();
        var twin = OwnRulTwin.Started(band, null);
        twin.Weeks(7, 150, new RuleWearModel());

        var served = new OwnRulTwin(band, own);
        served.State.ChargeCycles = twin.State.ChargeCycles;
        served.Weeks(154, 210, new RuleWearModel());

        Assert.False(served.State.OwnRun!.FromNew);
        Assert.Equal(0, served.State.OwnRun.Count);
        Assert.NotEqual(own.Version, served.State.Wear?.ModelVersion);

        // A new battery: its rows start from new, counted from the charge counter at the swap, and the model serves it.
        var swap = served.State.ChargeCycles!.Value;
        PartReplacement.Replace(served.State, new AlertStepper(band.Id, served.State), "battery", Start.AddDays(211), "agent-7", null, []);
        served.Weeks(217, 252, new RuleWearModel());

        var run = served.State.OwnRun!;
        Assert.True(run.FromNew && run.Count >= 3, $"{run.Count} rows since the new battery");
        Assert.Equal(swap, run.Origin);
        Assert.True(run.Times[0] < 30, $"the new battery's first row at {run.Times[0]} cycles");
        Assert.Equal(own.Version, served.State.Wear!.ModelVersion);
    }

    // ---------------------------------------------------------------- hostile values and times

    /// <summary>A column that is not in the uplink catalogue has no range: values near the largest double still give a
    /// finite, non-negative remaining life (never NaN in the twin, its API and its alerts).</summary>
    [Theory]
    [InlineData(false, 1e300)]
    [InlineData(false, -1e300)]
    [InlineData(true, 1e300)]
    [InlineData(true, -1e300)]
    [InlineData(false, 1e20)]
    [InlineData(true, 1e20)]
    public void HugeRowValues_AreServedAFiniteRemainingLife(bool fit, double value)
    {
        var own = OwnRulModel.Load(fit ? trained.BandFit : trained.BandRegression, "band");
        var run = own.NewRun(0, 0);
        for (var week = 1; week <= 20; week++)
        {
            run.Observe("charge_cycles", week * 3);
            foreach (var column in own.Columns)
            {
                run.Observe(column, week % 2 == 0 ? value : -value);
            }

            run.CloseWeek(null, 500);
        }

        Assert.True(run.Count > 0);

        var e = own.Estimate(run, 60)!.Value;
        Assert.True(double.IsFinite(e.Rul) && double.IsFinite(e.Low) && double.IsFinite(e.High), $"{e}");
        Assert.True(e.Rul >= 0 && e.Low >= 0 && e.High >= 0, $"{e}");
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    [InlineData(-1e9)]
    [InlineData(1e308)]
    public void AnyAge_IsServedAFiniteRemainingLife(double age)
    {
        var own = OwnRulModel.Load(trained.BandRegression, "band");
        var unit = Units(trained.BandCsv, own.Columns)[0];
        var e = own.Estimate(RunOf(own, unit.Times[..20], unit.Rows[..20]), age)!.Value;
        Assert.True(double.IsFinite(e.Rul) && e.Rul >= 0 && e.Low <= e.Rul && e.Rul <= e.High, $"{e}");
    }

    /// <summary>A stored run whose open week is damaged to a week no reading reaches must not stop the twin's rows for ever.</summary>
    [Fact]
    public void AStoredRunWithAnOpenWeekFarAhead_StillGetsRows()
    {
        var own = OwnRulModel.Load(trained.BandRegression, "band");
        var state = new DeviceState { Birth = new DeviceBirth { Kind = "band", Model = "M1", Batch = "B1", Firmware = "1.0.0", RatedCapacityMah = 500 } };
        var t0 = Start.ToUnixTimeMilliseconds();
        Apply(state, own, t0, [.. own.Columns.Select(c => (c, 400.0)), ("charge_cycles", 1)]);
        state.OwnRun = WeeklyRun.Restore(false, own.Columns, own.Head, own.Tail, 0, int.MaxValue, 0, 0, 0, null, null, null, null);
        for (var week = 1; week <= 12; week++)
        {
            Apply(state, own, t0 + (week * 7 * 86_400_000L), [.. own.Columns.Select(c => (c, 400.0 - week)), ("charge_cycles", week * 3.0)]);
        }

        Assert.True(state.OwnRun!.Count >= 10, $"{state.OwnRun.Count} rows after 12 weeks");
    }

    /// <summary>A device uploading its backlog after a live reading (the first reading later than the ones that follow):
    /// rows stay in time order, one a week, and the twin is served.</summary>
    [Fact]
    public void ABacklogOlderThanTheFirstReading_GivesRowsInOrder()
    {
        var own = OwnRulModel.Load(trained.ShoeRegression, "shoe");
        var state = new DeviceState { Birth = new DeviceBirth { Kind = "shoe", Model = "M1", Batch = "B1", Firmware = "1.0.0", WearerKg = 70 } };
        var t0 = Start.ToUnixTimeMilliseconds();
        const long Week = 7 * 86_400_000L;
        (string, double)[] Reading(int w) => [.. own.Columns.Where(c => c is not ("pace_s_per_km" or "wearer_kg")).Select(c => (c, 5.0 + (w * 0.01))), ("distance_m", 20_000), ("duration_s", 6000)];
        Apply(state, own, t0 + (10 * Week), Reading(10));
        for (var w = 0; w < 10; w++)
        {
            Apply(state, own, t0 + (w * Week), Reading(w));
        }

        for (var w = 11; w < 20; w++)
        {
            Apply(state, own, t0 + (w * Week), Reading(w));
        }

        var run = state.OwnRun!;
        Assert.True(run.Times.Zip(run.Times.Skip(1)).All(p => p.Second > p.First), $"row times: {string.Join(", ", run.Times)}");
        Assert.InRange(run.Count, 17, 19);
        Assert.Equal(state.DistanceM / 1000, run.Km + run.WeekKm, 6);
        Assert.NotNull(own.Estimate(run, state.DistanceM / 1000));
    }

    /// <summary>A twin born a shoe, then born again a band: its shoe rows are never served to the band model.</summary>
    [Fact]
    public void ATwinThatChangesKind_IsNeverServedItsOldKindsRows()
    {
        var shoeModel = OwnRulModel.Load(trained.ShoeRegression, "shoe");
        var bandModel = OwnRulModel.Load(trained.BandRegression, "band");
        var state = new DeviceState { Birth = new DeviceBirth { Kind = "shoe", Model = "M1", Batch = "B1", Firmware = "1.0.0", WearerKg = 70 } };
        var t0 = Start.ToUnixTimeMilliseconds();
        for (var w = 0; w < 5; w++)
        {
            Apply(state, shoeModel, t0 + (w * 7 * 86_400_000L),
                [.. shoeModel.Columns.Select(c => (c, 5.0)), ("distance_m", 20_000), ("duration_s", 6000), .. bandModel.Columns.Select(c => (c, 400.0)), ("charge_cycles", 5.0 * w)]);
        }

        Assert.True(state.OwnRun!.Count >= 3);
        state.Birth = state.Birth with { Kind = "band", RatedCapacityMah = 500 };
        Assert.False(bandModel.Fits(state.OwnRun));
        Apply(state, bandModel, t0 + (5 * 7 * 86_400_000L), [.. bandModel.Columns.Select(c => (c, 400.0)), ("charge_cycles", 30)]);
        Assert.False(state.OwnRun.Shoe);
        Assert.Equal(0, state.OwnRun.Count);
        WearAssessor.Assess(state, new RuleWearModel(), Start.AddDays(35), bandModel);
        Assert.NotEqual(bandModel.Version, state.Wear?.ModelVersion);
    }

    /// <summary>A shoe twin sending metrics named like the band model's columns (and a band sending a shoe's): each kind's rows
    /// only ever hold its own model's columns and the derived ones come from the birth and the week, not the metric.</summary>
    [Fact]
    public void MetricsNamedLikeDerivedColumns_DoNotOverrideThem()
    {
        var run = new WeeklyRun(shoe: true, ["pace_s_per_km", "wearer_kg"], head: 10, tail: 10);
        run.Observe("pace_s_per_km", 1e6);
        run.Observe("wearer_kg", -50);
        run.Observe("distance_m", 10_000);
        run.Observe("duration_s", 3000);
        Assert.Equal(10.0, run.CloseWeek(80, null));
        Assert.Equal([300.0, 80], run.Rows[0]);
    }

    // ---------------------------------------------------------------- the store

    /// <summary>A stored run with huge arrays is bounded on restore to what the model reads.</summary>
    [Fact]
    public void AHugeStoredRun_IsRestoredBounded()
    {
        var own = OwnRulModel.Load(trained.BandRegression, "band");
        const int N = 200_000;
        var times = Enumerable.Range(0, N).Select(i => (double)i).ToArray();
        var rows = Enumerable.Range(0, N).Select(i => own.Columns.Select(_ => 400.0 - (i * 1e-3)).ToArray()).ToArray();
        var run = RunOf(own, times, rows);
        Assert.Equal(own.Head + own.Tail, run.Count);
        Assert.Equal(N - 1, run.Times[^1]);
        Assert.Equal(0, run.Times[0]);
        Assert.True(own.Fits(run));
    }

    /// <summary>Absurd head and tail in a stored run: restored within 1,040 rows each, not served (it does not fit), and at
    /// the next reading bounded to the model's own (its columns are the model's, so its rows are kept, as many as it reads).</summary>
    [Fact]
    public void AStoredRunWithAbsurdHeadAndTail_IsBoundedToTheModelsAtTheNextReading()
    {
        var own = OwnRulModel.Load(trained.BandRegression, "band");
        var times = Enumerable.Range(0, 1000).Select(i => (double)i).ToArray();
        var rows = times.Select(_ => own.Columns.Select(_ => 400.0).ToArray()).ToArray();
        var damaged = WeeklyRun.Restore(false, own.Columns, int.MaxValue, int.MaxValue, 0, 0, 0, 0, 0, times, rows, null, null);
        Assert.False(own.Fits(damaged));
        Assert.Null(own.Fits(damaged) ? own.Estimate(damaged, 1000) : null);

        var state = new DeviceState { Birth = new DeviceBirth { Kind = "band", Model = "M1", Batch = "B1", Firmware = "1.0.0" }, OwnRun = damaged };
        WearAssessor.Assess(state, new RuleWearModel(), Start, own);
        Assert.NotEqual(own.Version, state.Wear?.ModelVersion);
        Assert.Equal((WeeklyRun.MaxRows, WeeklyRun.MaxRows), (damaged.Head, damaged.Tail));
        Apply(state, own, Start.ToUnixTimeMilliseconds(), ("charge_cycles", 1));
        Assert.True(own.Fits(state.OwnRun!));
        Assert.Equal(own.Head + own.Tail, state.OwnRun!.Count);
        Assert.Equal(999, state.OwnRun.Times[^1]);
    }

    /// <summary>A stored run with week numbers outside any reading (negative) closes its open week once, and goes on.</summary>
    [Fact]
    public void AStoredRunWithANegativeWeek_ClosesItOnce()
    {
        var own = OwnRulModel.Load(trained.BandRegression, "band");
        var state = new DeviceState { Birth = new DeviceBirth { Kind = "band", Model = "M1", Batch = "B1", Firmware = "1.0.0" } };
        var t0 = Start.ToUnixTimeMilliseconds();
        Apply(state, own, t0, ("charge_cycles", 1));
        state.OwnRun = WeeklyRun.Restore(false, own.Columns, own.Head, own.Tail, 0, -5, 0, 0, 0, null, null, null, null);
        Apply(state, own, t0 + 1000, [.. own.Columns.Select(c => (c, 400.0)), ("charge_cycles", 2)]);
        Apply(state, own, t0 + 2000, [.. own.Columns.Select(c => (c, 400.0)), ("charge_cycles", 3)]);
        Assert.Equal(0, state.OwnRun!.Week);
        Assert.True(state.OwnRun.Count <= 1);
    }
}
