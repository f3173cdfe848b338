using Telemetry.Models.Faults;

namespace Telemetry.Grains.Serialization;

/// <summary>
/// The stored form of a <see cref="SignalHistory"/>. Field ids and types are the ones the class carried when it was
/// serialized itself (up to b8080b5), so twins stored then read back unchanged and are written byte for byte alike.
/// </summary>
[GenerateSerializer]
internal struct SignalHistorySurrogate
{
    /// <summary>The baseline readings while it fills; null before the first reading and once summarised.</summary>
    [Id(0)] public List<double>? Baseline;

    /// <summary>The recent window; null until the baseline is known.</summary>
    [Id(1)] public List<double>? Recent;

    [Id(2)] public double? BaselineMedian;

    [Id(3)] public double? BaselineScale;
}
