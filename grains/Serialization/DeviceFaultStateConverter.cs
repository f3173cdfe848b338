using Telemetry.Models.Faults;

namespace Telemetry.Grains.Serialization;

/// <summary>Stores a <see cref="DeviceFaultState"/> as <see cref="DeviceFaultStateSurrogate"/>: the signals it holds,
/// without creating the ones it does not (its public properties would).</summary>
[RegisterConverter]
internal sealed class DeviceFaultStateConverter : IConverter<DeviceFaultState, DeviceFaultStateSurrogate>
{
    public DeviceFaultState ConvertFromSurrogate(in DeviceFaultStateSurrogate surrogate) =>
        new(surrogate.Impact, surrogate.Contact, surrogate.Humidity, surrogate.Capacity, surrogate.DelaminationStreak, surrogate.IngressStreak);

    public DeviceFaultStateSurrogate ConvertToSurrogate(in DeviceFaultState value) => new()
    {
        Impact = value.StoredImpact,
        Contact = value.StoredContact,
        Humidity = value.StoredHumidity,
        Capacity = value.StoredCapacity,
        DelaminationStreak = value.DelaminationStreak,
        IngressStreak = value.IngressStreak,
    };
}
