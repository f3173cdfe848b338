namespace Telemetry.Models.Rul;

/// <summary>Cross-validated accuracy of one way of predicting, over every row of every held-out unit.</summary>
/// <param name="Name">The predictor: a method or a baseline.</param>
/// <param name="Rmse">Root mean squared error, in the units of the time column.</param>
/// <param name="Mae">Mean absolute error, in the units of the time column.</param>
/// <param name="MeanLifeError">Mean over units of (MAE over the unit's rows ÷ its life).</param>
/// <param name="WorstLifeError">The worst unit's (MAE ÷ life).</param>
public sealed record RulScore(string Name, double Rmse, double Mae, double MeanLifeError, double WorstLifeError);
