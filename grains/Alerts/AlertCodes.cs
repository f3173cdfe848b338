namespace Telemetry.Grains.Alerts;

/// <summary>The alert codes the service raises. Codes are part of the public contract: never rename one.</summary>
public static class AlertCodes
{
    public const string ShoeReplaceSoon = "shoe.cushioning.replace_soon";
    public const string ShoeReplaceNow = "shoe.cushioning.replace_now";
    public const string BandBatteryDegraded = "band.battery.degraded";
}
