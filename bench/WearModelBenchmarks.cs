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

    [GlobalSetup]
    public void WarmUp() => _learned.EstimateShoe(_shoe);

    [Benchmark(Baseline = true)]
    public double ShoeRules() => _rules.EstimateShoe(_shoe).RemainingKm;

    [Benchmark]
    public double ShoeLearned() => _learned.EstimateShoe(_shoe).RemainingKm;

    [Benchmark]
    public double BandLearned() => _learned.EstimateBand(_band).RemainingCycles;
}
