using Telemetry.Models.Faults;
using Telemetry.Models.Learning;

namespace Telemetry.Grains.Serialization;

/// <summary>The stored form of a <see cref="BandUsage"/>, with the field ids and types the class carried when it was
/// serialized itself (see <see cref="SignalHistorySurrogate"/>).</summary>
[GenerateSerializer]
internal struct BandUsageSurrogate
{
    [Id(0)] public double? ReferenceMah;

    [Id(1)] public double ReferenceCycles;

    [Id(2)] public double? SmoothedMah;

    [Id(3)] public double Cycles;

    [Id(4)] public int Samples;

    [Id(5)] public CapacityTrend? Trend;

    [Id(6)] public double? LastFadePctPerCycle;

    [Id(7)] public long? FirstMs;

    [Id(8)] public long? LastMs;

    /// <summary>NaN until the first charge summary. Written in every stored band usage (it came with the class, and no
    /// field is left out for being default), so a missing one never has to stand for NaN.</summary>
    [Id(9)] public double FirstCycles;

    [Id(10)] public double TemperatureSum;

    [Id(11)] public int TemperatureCount;

    /// <summary>The weekly trajectory the curve fit keeps; absent while empty (and in usages stored before it).</summary>
    [Id(12)] public WearHistory? History;
}
