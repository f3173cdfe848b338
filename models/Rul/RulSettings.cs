using System.Globalization;

namespace Telemetry.Models.Rul;

/// <summary>Settings of the regression method of a remaining-useful-life model: one candidate of the search.</summary>
public sealed record RulSettings
{
    /// <summary>Cap of the label (piecewise-linear target); null keeps the raw time remaining.</summary>
    public double? Cap { get; init; }

    public int Window { get; init; } = 15;

    public int Trees { get; init; } = 200;

    public int Leaves { get; init; } = 32;

    public double LearningRate { get; init; } = 0.1;

    /// <summary>Columns trending with age less than this (<see cref="ColumnScore.Trendability"/>) are left out.</summary>
    public double MinTrendability { get; init; }

    /// <summary>Rows at each unit's start that are its own baseline (<see cref="WindowFeatures.NormalizeFirst"/>); 0 for raw values.</summary>
    public int NormalizeFirst { get; init; }

    /// <summary>Rows in the trailing mean of each column's current value.</summary>
    public int Smooth { get; init; } = 1;

    public int Seed { get; init; } = 7;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"window {Window}, {Trees} trees, {Leaves} leaves, learning rate {LearningRate}, trendability ≥ {MinTrendability}, baseline {(NormalizeFirst > 0 ? $"first {NormalizeFirst} rows" : "none")}, smoothing {Smooth}");
}
