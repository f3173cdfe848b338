using Telemetry.Models.Learning;

namespace Telemetry.Grains.Serialization;

/// <summary>Stores a <see cref="ShoeUsage"/> as <see cref="ShoeUsageSurrogate"/>.</summary>
[RegisterConverter]
internal sealed class ShoeUsageConverter : IConverter<ShoeUsage, ShoeUsageSurrogate>
{
    public ShoeUsage ConvertFromSurrogate(in ShoeUsageSurrogate surrogate) => new()
    {
        DistanceKm = surrogate.DistanceKm,
        RunningSeconds = surrogate.RunningSeconds,
        KmWithDuration = surrogate.KmWithDuration,
        ImpactBaselineCount = surrogate.ImpactBaselineCount,
        ImpactBaselineSum = surrogate.ImpactBaselineSum,
        ImpactRecentG = surrogate.ImpactRecentG,
        FirstMs = surrogate.FirstMs,
        LastMs = surrogate.LastMs,
        TemperatureSum = surrogate.TemperatureSum,
        TemperatureCount = surrogate.TemperatureCount,
        History = WearHistoryConverter.Restored(surrogate.History, surrogate.FirstMs, surrogate.LastMs, surrogate.DistanceKm),
    };

    public ShoeUsageSurrogate ConvertToSurrogate(in ShoeUsage value) => new()
    {
        DistanceKm = value.DistanceKm,
        RunningSeconds = value.RunningSeconds,
        KmWithDuration = value.KmWithDuration,
        ImpactBaselineCount = value.ImpactBaselineCount,
        ImpactBaselineSum = value.ImpactBaselineSum,
        ImpactRecentG = value.ImpactRecentG,
        FirstMs = value.FirstMs,
        LastMs = value.LastMs,
        TemperatureSum = value.TemperatureSum,
        TemperatureCount = value.TemperatureCount,
        History = WearHistoryConverter.Stored(value.History),
    };
}
