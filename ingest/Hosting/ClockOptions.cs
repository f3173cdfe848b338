namespace Telemetry.Ingest.Hosting;

/// <summary>The service's clock. Section <c>Clock</c>.</summary>
public sealed class ClockOptions
{
    public const string SectionName = "Clock";

    /// <summary>
    /// Added to the system clock everywhere the service reads time. For fault drills only (e.g. <c>-00:10:00</c>
    /// runs the service 10 minutes slow, to see that readings refused for the service's clock are held, not
    /// lost); between -1 and +1 day. Default 0.
    /// </summary>
    public TimeSpan Offset { get; set; } = TimeSpan.Zero;
}
