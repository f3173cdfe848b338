namespace Telemetry.Models.Rul;

/// <summary>How much life signal a column carries, judged across the training units.</summary>
/// <param name="Column">Index of the column among the table's numeric columns.</param>
/// <param name="Name">The column's name.</param>
/// <param name="NearConstant">True when its spread is below 1e-4 of its mean: dropped whatever its trend.</param>
/// <param name="Trendability">
/// The mean, across units, of the column's correlation with the unit's age, taken as an absolute value after
/// averaging: a column that rises in every unit as it wears scores near 1, one that rises in some units and falls in
/// others, or is noise around a set point (an operating setting), scores near 0 however wide its spread.
/// </param>
public sealed record ColumnScore(int Column, string Name, double Trendability, bool NearConstant)
{
    /// <summary>The sign of the trend with age: -1 when the column falls as the unit wears.</summary>
    public int Direction { get; init; } = 1;
}
