namespace Telemetry.Models.Rul;

/// <summary>Cross-validated accuracy of one way of predicting, over every row of every held-out unit.</summary>
/// <param name="Name">The predictor: a method or a baseline.</param>
/// <param name="Rmse">Root mean squared error, in the units of the time column.</param>
/// <param name="Mae">Mean absolute error, in the units of the time column.</param>
/// <param name="MeanLifeError">Mean over units of (MAE over the unit's rows ÷ its life).</param>
/// <param name="WorstLifeError">The worst unit's (MAE ÷ life).</param>
public sealed record RulScore(string Name, double Rmse, double Mae, double MeanLifeError, double WorstLifeError)
{
    /// <summary>Stages of life the error is broken down by: fifths of each unit's own life.</summary>
    public const int Stages = 5;

    /// <summary>
    /// <see cref="MeanLifeError"/> by stage of life: for each fifth of a unit's life (by its age at the row), the mean
    /// over the units with rows in that fifth of the unit's MAE over them ÷ its life (so a stage may average other units
    /// than the next, the same for every predictor); NaN for a stage no unit has rows in. Where a predictor helps, and
    /// where it knows no more than the population's lives. Empty when not measured.
    /// </summary>
    public IReadOnlyList<double> ByStage { get; init; } = [];
}
