using Telemetry.Grains.Ingest;

namespace Telemetry.Grains.Devices;

/// <summary>The persisted twin. Field ids are part of the storage format: add new ones, never reuse.</summary>
[GenerateSerializer, Alias("telemetry.device-state")]
public sealed class DeviceState
{
    [Id(0)] public DeviceBirth? Birth { get; set; }

    [Id(1)] public DateTimeOffset? FirstSeen { get; set; }

    [Id(2)] public DateTimeOffset? LastSeen { get; set; }

    /// <summary>Device time of the newest accepted reading (Unix ms).</summary>
    [Id(3)] public long? LastReadingMs { get; set; }

    /// <summary>Device time of the oldest accepted reading (Unix ms), for usage rates.</summary>
    [Id(4)] public long? FirstReadingMs { get; set; }

    [Id(5)] public double DistanceM { get; set; }

    [Id(6)] public double DurationS { get; set; }

    [Id(7)] public long Steps { get; set; }

    /// <summary>Cumulative equivalent full cycles, as last reported (a counter, not a sum).</summary>
    [Id(8)] public long? ChargeCycles { get; set; }

    // Ids 9-15 held the impact baseline and battery capacity history before ShoeUsage and BandUsage (26, 27)
    // took them over; they stay unused so stored twins remain readable.

    [Id(16)] public DeviceProgress Progress { get; set; } = new();

    [Id(17)] public long Messages { get; set; }

    [Id(18)] public long Readings { get; set; }

    [Id(19)] public long RejectedReadings { get; set; }

    [Id(20)] public long DuplicateMessages { get; set; }

    /// <summary>The last value of every metric, catalogue or not (bounded, see DeviceGrain).</summary>
    [Id(21)] public Dictionary<string, double> LastValues { get; set; } = [];

    [Id(22)] public WearSnapshot? Wear { get; set; }

    /// <summary>Current level per alert family (the index into its ladder; absent = no alert).</summary>
    [Id(23)] public Dictionary<string, int> AlertLevels { get; set; } = [];

    /// <summary>Open alerts per family.</summary>
    [Id(24)] public Dictionary<string, OpenAlert> OpenAlerts { get; set; } = [];

    /// <summary>The sudden-fault detector's memory of this device (its own baselines and recent values).</summary>
    [Id(25)] public Telemetry.Models.Faults.DeviceFaultState Faults { get; set; } = new();

    /// <summary>Usage accumulated for the wear models (the same code builds their training data).</summary>
    [Id(26)] public Telemetry.Models.Learning.ShoeUsage ShoeUsage { get; set; } = new();

    [Id(27)] public Telemetry.Models.Learning.BandUsage BandUsage { get; set; } = new();

    /// <summary>Recently resolved alerts with their history, newest last (at most 50).</summary>
    [Id(28)] public List<OpenAlert> ClosedAlerts { get; set; } = [];

    /// <summary>Events stored with the change that produced them and not delivered yet (see DeviceOutbox).</summary>
    [Id(29)] public DeviceOutbox Outbox { get; set; } = new();
}
