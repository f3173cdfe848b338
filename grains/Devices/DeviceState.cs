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

    // Alerts, closed alerts and the outbox's lists are created on first use: most twins never have an alert, and
    // a hundred thousand resident twins would otherwise hold that many empty collections (about 25 MB). The fields
    // are what is stored, with the ids the properties had, so stored twins still load.
    [Id(23)] private Dictionary<string, int>? _alertLevels;

    [Id(24)] private Dictionary<string, OpenAlert>? _openAlerts;

    [Id(28)] private List<OpenAlert>? _closedAlerts;

    /// <summary>Current level per alert family (the index into its ladder; absent = no alert).</summary>
    public Dictionary<string, int> AlertLevels { get => _alertLevels ??= []; set => _alertLevels = value; }

    /// <summary>Open alerts per family.</summary>
    public Dictionary<string, OpenAlert> OpenAlerts { get => _openAlerts ??= []; set => _openAlerts = value; }

    public bool HasOpenAlerts => _openAlerts is { Count: > 0 };

    /// <summary>The level of <paramref name="family"/> (−1: none), read on every round without creating anything.</summary>
    public int AlertLevel(string family) => _alertLevels is { } levels ? levels.GetValueOrDefault(family, -1) : -1;

    /// <summary>The sudden-fault detector's memory of this device (its own baselines and recent values).</summary>
    [Id(25)] public Telemetry.Models.Faults.DeviceFaultState Faults { get; set; } = new();

    /// <summary>Usage accumulated for the wear models (the same code builds their training data). Created on first
    /// use, so a band carries no shoe usage and a shoe no band usage (the field, not the property, is stored).</summary>
    public Telemetry.Models.Learning.ShoeUsage ShoeUsage { get => _shoeUsage ??= new(); set => _shoeUsage = value; }

    /// <summary>A band's battery usage for the wear models; created on first use like <see cref="ShoeUsage"/>.</summary>
    public Telemetry.Models.Learning.BandUsage BandUsage { get => _bandUsage ??= new(); set => _bandUsage = value; }

    [Id(26)] private Telemetry.Models.Learning.ShoeUsage? _shoeUsage;

    [Id(27)] private Telemetry.Models.Learning.BandUsage? _bandUsage;

    /// <summary>Recently resolved alerts with their history, newest last (at most 50).</summary>
    public List<OpenAlert> ClosedAlerts { get => _closedAlerts ??= []; set => _closedAlerts = value; }

    /// <summary>Events stored with the change that produced them and not delivered yet (see DeviceOutbox).</summary>
    [Id(29)] public DeviceOutbox Outbox { get; set; } = new();
}
