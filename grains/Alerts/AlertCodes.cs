namespace Telemetry.Grains.Alerts;

/// <summary>The alert codes the service raises. Codes are part of the public contract: never rename one.</summary>
public static class AlertCodes
{
    public const string ShoeReplaceSoon = "shoe.cushioning.replace_soon";
    public const string ShoeReplaceNow = "shoe.cushioning.replace_now";
    public const string BandBatteryDegraded = "band.battery.degraded";

    /// <summary>Fault alerts: a failure mode, not wear. They feed the quality analytics per model and batch.</summary>
    public const string ShoeDelaminationSuspected = "shoe.sole.delamination_suspected";
    public const string BandWaterIngressSuspected = "band.water_ingress_suspected";
    public const string BandBatteryFadingFast = "band.battery.fading_fast";

    /// <summary>The alert code of a detector finding's mode.</summary>
    public static string ForFault(string mode) => mode switch
    {
        "delamination" => ShoeDelaminationSuspected,
        "water_ingress" => BandWaterIngressSuspected,
        "battery_fading_fast" => BandBatteryFadingFast,
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown fault mode"),
    };
}
