namespace Telemetry.Grains.Serialization;

/// <summary>The stored form of a <see cref="Telemetry.Models.Rul.WeeklyRun"/>: what its rows are of, the rows (flattened,
/// <see cref="Columns"/> wide) and the open week's sums. The served model's cached answer is not stored.</summary>
[GenerateSerializer]
internal struct WeeklyRunSurrogate
{
    [Id(0)] public bool Shoe;

    [Id(1)] public string[]? Columns;

    [Id(2)] public int Head;

    [Id(3)] public int Tail;

    [Id(4)] public double Km;

    [Id(5)] public int Week;

    [Id(6)] public double WeekKm;

    [Id(7)] public double WeekSeconds;

    [Id(8)] public double WeekCycles;

    [Id(9)] public double[]? Times;

    [Id(10)] public double[]? Values;

    [Id(11)] public double[]? Sums;

    [Id(12)] public int[]? Counts;

    [Id(13)] public double Origin;

    [Id(14)] public bool FromNew;
}
