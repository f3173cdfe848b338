namespace Telemetry.Models.Rul;

/// <summary>A table cut by a <see cref="LifeDefinition"/>: the units that reach their end of life, and those left out.</summary>
/// <param name="Failed">Units cut at their end of life.</param>
/// <param name="Censored">Units that never reach it: still running.</param>
/// <param name="PastAtStart">Units already past the limit at their first row: their life is not in the file.</param>
public sealed record LifeCut(RunTable Failed, IReadOnlyList<RunTable.Unit> Censored, IReadOnlyList<RunTable.Unit> PastAtStart);
