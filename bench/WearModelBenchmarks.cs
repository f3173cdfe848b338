using BenchmarkDotNet.Attributes;
using Telemetry.Models.Learning;
using Telemetry.Models.Wear;

namespace Telemetry.Bench;

/// <summary>
/// One remaining-life prediction with its interval, as a device grain makes it: features, a pooled prediction
/// engine, the FastTree ensemble, the calibrated interval. Target: under 5 µs and no allocation.
/// </summary>
[MemoryDiagnoser]
public class WearModelBenchmarks
{
    private readonly LearnedWearModel _learned = LearnedWearModel.Load(LearnedWearModel.DefaultDirectory);
    private readonly RuleWearModel _rules = new();
    private readonly ShoeWearInput _shoe = new(312.5, 78, 10.1, 10.6, 34, 5.3);
    private readonly BandWearInput _band = new(300, 262, 280, 5.2, 0.045, 87.5);

    private LearnedWearModel _fitted = null!;
    private WearHistory _history = null!;

    [GlobalSetup]
    public void WarmUp()
    {
        _learned.EstimateShoe(_shoe);

        // The band model as train writes it when the curve fit wins: the curves of 200 generated bands (40 of them are
        // mixed) and a twin history already full (48 weekly points).
        var directory = Directory.CreateTempSubdirectory("bench-fit-").FullName;
        foreach (var file in Directory.GetFiles(LearnedWearModel.DefaultDirectory))
        {
            File.Copy(file, Path.Combine(directory, Path.GetFileName(file)));
        }

        var curves = WearCurve.Curves("band", WearDataset.Bands(200, 1));
        var json = Path.Combine(directory, "band-rul.json");
        var report = System.Text.Json.JsonSerializer.Deserialize<WearModelReport>(File.ReadAllText(json))! with
        {
            Method = "curve fit",
            Curves = curves,
            Fit = Telemetry.Models.Rul.LifeFit.From(curves, 0.3, 0.7),
        };
        File.WriteAllText(json, System.Text.Json.JsonSerializer.Serialize(report));
        _fitted = LearnedWearModel.Load(directory);
        _history = new WearHistory();
        for (var week = 0; week < WearHistory.MaxPoints; week++)
        {
            _history.Week = week;
            _history.Record(week * 5, week * 0.004);
        }
    }

    [Benchmark(Baseline = true)]
    public double ShoeRules() => _rules.EstimateShoe(_shoe).RemainingKm;

    [Benchmark]
    public double ShoeLearned() => _learned.EstimateShoe(_shoe).RemainingKm;

    [Benchmark]
    public double BandLearned() => _learned.EstimateBand(_band).RemainingCycles;

    /// <summary>The curve fit within a week: the week's fit, less the cycles used since.</summary>
    [Benchmark]
    public double BandCurveFitWithinWeek() => _fitted.EstimateBand(_band, _history).RemainingCycles;

    /// <summary>The curve fit in a new week: a point added and the 48-point history fitted again (once a week a twin).</summary>
    [Benchmark]
    public double BandCurveFitNewWeek()
    {
        _history.Week++;
        return _fitted.EstimateBand(_band, _history).RemainingCycles;
    }
}
