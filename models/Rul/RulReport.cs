namespace Telemetry.Models.Rul;

/// <summary>Everything train-rul reports: the chosen method and settings, its cross-validated error next to the naive baselines, and the interval's coverage.</summary>
public sealed record RulReport
{
    public required int Units { get; init; }

    public required IReadOnlyList<string> Censored { get; init; }

    /// <summary>Units left out because they were past the end-of-life limit at their first row.</summary>
    public IReadOnlyList<string> PastAtStart { get; init; } = [];

    public required int Rows { get; init; }

    public required int Folds { get; init; }

    public required RulScore Model { get; init; }

    public required RulScore MeanLifeBaseline { get; init; }

    public required RulScore ExtrapolationBaseline { get; init; }

    /// <summary>The column the extrapolation baseline and the curve method follow.</summary>
    public required string Indicator { get; init; }

    public required string Method { get; init; }

    public required string Settings { get; init; }

    /// <summary>How the method was chosen among the candidates: the lowest RMSE, or the one-standard-error rule and why.</summary>
    public string Selection { get; init; } = "";

    /// <summary>When units were few: each method's own search judged on units it did not see (from 5 units the lowest
    /// chosen, by the one-standard-error rule; below 5 shown only, the blend being served).</summary>
    public IReadOnlyList<RulScore> MethodScores { get; init; } = [];

    /// <summary>Every candidate tried, best first.</summary>
    public required IReadOnlyList<(string Method, string Settings, RulScore Score)> Candidates { get; init; }

    /// <summary>
    /// The measured effect of each choice of the regression's search: for every setting and value, the best
    /// cross-validated RMSE among the candidates that had it, and how many did.
    /// </summary>
    public IReadOnlyList<(string Setting, string Value, double BestRmse, int Candidates)> Choices { get; init; } = [];

    /// <summary>Share of held-out rows inside the curve's own 10th–90th percentile band (null for regression, which has none).</summary>
    public double? RawCoverage { get; init; }

    /// <summary>Share of held-out rows inside the curve's own band with its conformal margin, each fold's margin from the
    /// other folds' rows (null for regression).</summary>
    public double? BandCoverage { get; init; }

    /// <summary>The margin added to each side of the curve's own band (negative narrows it), from all held-out rows.</summary>
    public double BandMargin { get; init; }

    /// <summary>True when the curve's own band is served (with <see cref="BandMargin"/>), its held-out coverage being
    /// nearer 80% than the calibrated offsets'.</summary>
    public bool OwnBand { get; init; }

    /// <summary>Share of held-out rows inside the calibrated band, each fold calibrated on the other folds' errors.</summary>
    public required double Coverage { get; init; }

    public required (double Lower, double Upper) Interval { get; init; }

    /// <summary>The share of cross-validated errors left out on each side of the interval: 0.1 unless widened to reach 70% coverage.</summary>
    public double IntervalTail { get; init; } = 0.1;

    /// <summary>Columns the chosen regression kept and dropped (near-constant; not trending with age); empty for the curve.</summary>
    public int Features { get; init; }

    public int DroppedConstant { get; init; }

    public int DroppedNoise { get; init; }

    public required TimeSpan Elapsed { get; init; }

    /// <summary>The whole procedure's score by nested cross-validation (<see cref="RulTrainer.Nested"/>), when asked for.</summary>
    public RulScore? Nested { get; init; }

    /// <summary>
    /// True when the model's RMSE and mean error as a share of life are both below every baseline's; judged on the
    /// nested score when there is one, since the chosen candidate's own score flatters it.
    /// </summary>
    public bool BeatsBaselines =>
        (Nested ?? Model).Rmse < Math.Min(MeanLifeBaseline.Rmse, ExtrapolationBaseline.Rmse)
        && (Nested ?? Model).MeanLifeError < Math.Min(MeanLifeBaseline.MeanLifeError, ExtrapolationBaseline.MeanLifeError);
}
