namespace Telemetry.Models.Simulation;

/// <summary>The failure modes of DOMAIN.md that a device can be born with.</summary>
public enum FaultMode
{
    None,

    /// <summary>Shoe: the sole comes loose; impact and ground contact step up against the shoe's own baseline.</summary>
    Delamination,

    /// <summary>Shoe: the midsole collapses 2–3× faster than mileage explains.</summary>
    PrematureCollapse,

    /// <summary>Band: the cell loses capacity 2–3× faster than its cycles explain (often swelling).</summary>
    EarlyBatteryFade,

    /// <summary>Band: a seal fails; internal humidity rises after water activity and stays high.</summary>
    WaterIngress,

    /// <summary>Band: the optical heart-rate sensor degrades; its signal-to-noise ratio trends down.</summary>
    HrSensorDegradation,
}

/// <summary>A fault a simulated device will develop, and when (time after the device is started).</summary>
public sealed record SimulatedFault(FaultMode Mode, TimeSpan OnsetAfter);
