using Telemetry.Models.Faults;

namespace Telemetry.Grains.Serialization;

/// <summary>Stores a <see cref="CapacityTrend"/> as <see cref="CapacityTrendSurrogate"/>.</summary>
[RegisterConverter]
internal sealed class CapacityTrendConverter : IConverter<CapacityTrend, CapacityTrendSurrogate>
{
    // A list missing from the stream (never the case for one this class wrote) gets the class's own initial value, as
    // the class's generated serializer left it.
    public CapacityTrend ConvertFromSurrogate(in CapacityTrendSurrogate surrogate) => new()
    {
        Cycles = surrogate.Cycles ?? [],
        CapacityPct = surrogate.CapacityPct ?? [],
        FittedPct = surrogate.FittedPct,
    };

    public CapacityTrendSurrogate ConvertToSurrogate(in CapacityTrend value) => new()
    {
        Cycles = value.Cycles,
        CapacityPct = value.CapacityPct,
        FittedPct = value.FittedPct,
    };
}
