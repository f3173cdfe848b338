using Telemetry.Models.Faults;

namespace Telemetry.Grains.Serialization;

/// <summary>The stored form of a <see cref="CapacityTrend"/>, with the field ids and types the class carried when it was
/// serialized itself (see <see cref="SignalHistorySurrogate"/>).</summary>
[GenerateSerializer]
internal struct CapacityTrendSurrogate
{
    [Id(0)] public List<double>? Cycles;

    [Id(1)] public List<double>? CapacityPct;

    [Id(2)] public double? FittedPct;
}
