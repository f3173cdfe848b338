namespace Telemetry.Grains.Serialization;

/// <summary>The stored form of a <see cref="Telemetry.Models.Learning.WearHistory"/>: its points as two arrays and the
/// week of the newest. The week the usage is in now and the served model's cached fit are not stored.</summary>
[GenerateSerializer]
internal struct WearHistorySurrogate
{
    [Id(0)] public double[]? Ages;

    [Id(1)] public double[]? Progress;

    [Id(2)] public int LastWeek;
}
