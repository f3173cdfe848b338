namespace Telemetry.Ingest.Uplink;

/// <summary>Limits of the uplink contract that operators may tune. Section <c>Uplink</c>.</summary>
public sealed class UplinkOptions
{
    public const string SectionName = "Uplink";

    /// <summary>Readings stamped further ahead of service time are rejected. Default 5 minutes.</summary>
    public TimeSpan MaxFutureSkew { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Readings older than this are rejected. Default 30 days.</summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// Shortest time between two publications of waiting acks (the contract allows 1 s). Default 0: acks go out as
    /// soon as they are due, and those that come due while a publication is under way wait for the next one, so
    /// acks coalesce only while publishing is busy, which is when coalescing saves work. A positive value also
    /// waits that long after each publication, trading latency for fewer publishes.
    /// </summary>
    public TimeSpan AckInterval { get; set; } = TimeSpan.Zero;

    /// <summary>Sustained telemetry messages per second one device may send. Default 20.</summary>
    public double RateLimitPerSecond { get; set; } = 20;

    /// <summary>Messages a device may send in a burst, e.g. flushing its buffer after a reconnect. Default 200.</summary>
    public int RateLimitBurst { get; set; } = 200;

    /// <summary>Sustained changed births per hour one device may send (a birth sent again unchanged, as on every
    /// connect, costs nothing). Default 6.</summary>
    public double BirthRateLimitPerHour { get; set; } = 6;

    /// <summary>Changed births a device may send at once. Default 10.</summary>
    public int BirthRateLimitBurst { get; set; } = 10;

    /// <summary>
    /// Distinct metric names outside the catalogue one device may introduce; readings that would add more are
    /// rejected (<c>too_many_metrics</c>). Each such name becomes a field of the store's measurement for every
    /// device, so one device must not grow it without bound. Default 16.
    /// </summary>
    public int MaxCustomMetrics { get; set; } = 16;
}
