using Telemetry.Models.Learning;

namespace Telemetry.Grains.Serialization;

/// <summary>Stores a <see cref="BandUsage"/> as <see cref="BandUsageSurrogate"/>.</summary>
[RegisterConverter]
internal sealed class BandUsageConverter : IConverter<BandUsage, BandUsageSurrogate>
{
    public BandUsage ConvertFromSurrogate(in BandUsageSurrogate surrogate) => new()
    {
        ReferenceMah = surrogate.ReferenceMah,
        ReferenceCycles = surrogate.ReferenceCycles,
        SmoothedMah = surrogate.SmoothedMah,
        Cycles = surrogate.Cycles,
        Samples = surrogate.Samples,
        // A trend missing from the stream gets the class's initial one, as the class's generated serializer left it.
        Trend = surrogate.Trend ?? new(),
        LastFadePctPerCycle = surrogate.LastFadePctPerCycle,
        FirstMs = surrogate.FirstMs,
        LastMs = surrogate.LastMs,
        FirstCycles = surrogate.FirstCycles,
        TemperatureSum = surrogate.TemperatureSum,
        TemperatureCount = surrogate.TemperatureCount,
        History = WearHistoryConverter.Restored(surrogate.History, surrogate.FirstMs, surrogate.LastMs, Math.Max(0, surrogate.Cycles - surrogate.ReferenceCycles)),
    };

    public BandUsageSurrogate ConvertToSurrogate(in BandUsage value) => new()
    {
        ReferenceMah = value.ReferenceMah,
        ReferenceCycles = value.ReferenceCycles,
        SmoothedMah = value.SmoothedMah,
        Cycles = value.Cycles,
        Samples = value.Samples,
        Trend = value.Trend,
        LastFadePctPerCycle = value.LastFadePctPerCycle,
        FirstMs = value.FirstMs,
        LastMs = value.LastMs,
        FirstCycles = value.FirstCycles,
        TemperatureSum = value.TemperatureSum,
        TemperatureCount = value.TemperatureCount,
        History = WearHistoryConverter.Stored(value.History),
    };
}
