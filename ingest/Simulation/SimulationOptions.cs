namespace Telemetry.Ingest.Simulation;

/// <summary>The built-in demo fleet. Section <c>Simulation</c>; <c>--simulate N</c> sets <see cref="Devices"/>.</summary>
public sealed class SimulationOptions
{
    public const string SectionName = "Simulation";

    /// <summary>Simulated devices, half shoes and half bands. Default 0: no simulation.</summary>
    public int Devices { get; set; }

    /// <summary>Seed of the fleet; the same seed gives the same devices and readings. Default 42.</summary>
    public int Seed { get; set; } = 42;

    /// <summary>How far in the past the simulated history starts. It must stay inside the accepted
    /// time window (<c>Uplink:MaxAge</c>). Default 29 days.</summary>
    public TimeSpan Backfill { get; set; } = TimeSpan.FromDays(29);

    /// <summary>Real time in which the backfill is replayed, after which the fleet runs in real time.
    /// Default 90 s, so a demo shows alerts within its first minute.</summary>
    public TimeSpan CatchUp { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>Faults of the demo fleet begin between 25% and 100% of this time after the simulated start, so
    /// that the bad batch shows inside the backfill. Default 14 days. The rates are DOMAIN.md's (yearly) rates:
    /// the demo compresses a year of failures into its first weeks.</summary>
    public TimeSpan FaultsWithin { get; set; } = TimeSpan.FromDays(14);

    /// <summary>Whether the simulated after-sales desk confirms faults customers can see or feel (warranty claims and returns,
    /// as <c>POST /api/quality/events</c> would). Default true.</summary>
    public bool AfterSales { get; set; } = true;

    /// <summary>How often each device uploads what it has measured. Default 1 s.</summary>
    public TimeSpan Tick { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A device resends a message not acked within this time, as real firmware must. Default 10 s.</summary>
    public TimeSpan ResendAfter { get; set; } = TimeSpan.FromSeconds(10);
}
