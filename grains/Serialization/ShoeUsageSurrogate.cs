using Telemetry.Models.Learning;

namespace Telemetry.Grains.Serialization;

/// <summary>The stored form of a <see cref="ShoeUsage"/>, with the field ids and types the class carried when it was
/// serialized itself (see <see cref="SignalHistorySurrogate"/>).</summary>
[GenerateSerializer]
internal struct ShoeUsageSurrogate
{
    [Id(0)] public double DistanceKm;

    [Id(1)] public double RunningSeconds;

    [Id(2)] public double KmWithDuration;

    [Id(3)] public int ImpactBaselineCount;

    [Id(4)] public double ImpactBaselineSum;

    [Id(5)] public double? ImpactRecentG;

    [Id(6)] public long? FirstMs;

    [Id(7)] public long? LastMs;

    [Id(8)] public double TemperatureSum;

    [Id(9)] public int TemperatureCount;

    /// <summary>The weekly trajectory the curve fit keeps; absent while empty (and in usages stored before it).</summary>
    [Id(10)] public WearHistory? History;
}
