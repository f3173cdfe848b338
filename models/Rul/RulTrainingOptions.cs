namespace Telemetry.Models.Rul;

/// <summary>What <see cref="RulTrainer"/> is asked to do.</summary>
public sealed record RulTrainingOptions
{
    /// <summary>The first regression candidate (the command line's --window, --trees, --cap, --seed).</summary>
    public RulSettings Start { get; init; } = new();

    /// <summary>End of life by a threshold; null: each unit's last row.</summary>
    public LifeDefinition? Life { get; init; }

    /// <summary>Time for the search of settings; the first candidate of each method always runs. Default 60 s.</summary>
    public TimeSpan Budget { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>At most this many candidates in all (for a reproducible search whatever the machine's speed).</summary>
    public int MaxCandidates { get; init; } = int.MaxValue;

    /// <summary>At most this many folds (units grouped: a unit is never in training and test at once). Default 5.</summary>
    public int Folds { get; init; } = 5;

    /// <summary>The methods searched (regression, curve, curve fit, curve blend); null for the automatic rule: below 5
    /// units the blend, below 20 the method chosen by nested cross-validation, from 20 all of them.</summary>
    internal IReadOnlyList<string>? Methods { get; init; }
}
