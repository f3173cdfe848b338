using Telemetry.Models.Faults;

namespace Telemetry.Grains.Serialization;

/// <summary>The stored form of a <see cref="DeviceFaultState"/>, with the field ids and types the class carried when it
/// was serialized itself (see <see cref="SignalHistorySurrogate"/>).</summary>
[GenerateSerializer]
internal struct DeviceFaultStateSurrogate
{
    /// <summary>Null for a signal never fed (a band's impact, a shoe's humidity).</summary>
    [Id(0)] public SignalHistory? Impact;

    [Id(1)] public SignalHistory? Contact;

    [Id(2)] public SignalHistory? Humidity;

    [Id(3)] public CapacityTrend? Capacity;

    [Id(4)] public int DelaminationStreak;

    [Id(5)] public int IngressStreak;
}
