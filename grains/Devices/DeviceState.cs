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

    /// <summary>The time (Unix ms, readings' time) up to which <see cref="ChargeCycles"/>' rises are paid for, an hour a
    /// cycle: how far a count may run ahead of the counter is bounded by the time since
    /// (<see cref="WearAssessor.ChargeCountPlausible"/>). Null for a twin stored before it, or since a band was replaced.</summary>
    [Id(32)] public long? ChargeCountMs { get; set; }

    // Ids 9-15 held the impact baseline and battery capacity history before ShoeUsage and BandUsage (26, 27)
    // took them over; they stay unused so stored twins remain readable.

    [Id(16)] public DeviceProgress Progress { get; set; } = new();

    [Id(17)] public long Messages { get; set; }

    [Id(18)] public long Readings { get; set; }

    [Id(19)] public long RejectedReadings { get; set; }

    [Id(20)] public long DuplicateMessages { get; set; }

    // The last value of every metric, catalogue or not, in the order first seen (bounded, see DeviceGrain). An array
    // of name and value, not a dictionary: eight metrics took 368 bytes as a dictionary and take 144 here, and a
    // scan of a handful of names compared by reference first (catalogue names are interned) costs less than hashing.
    [Id(30)] private MetricValue[]? _lastValues;

    // Twins stored before id 30 kept their last values as a dictionary; moved into _lastValues on first use.
    [Id(21)] private Dictionary<string, double>? _lastValuesBefore;

    /// <summary>The last value of every metric, catalogue or not, in the order first seen.</summary>
    public ReadOnlySpan<MetricValue> LastValues
    {
        get
        {
            MoveLastValues();
            return _lastValues;
        }
    }

    /// <summary>Sets the last value of <paramref name="name"/>; a name not yet held is added only while fewer than
    /// <paramref name="max"/> are. Returns false when it was left out for that reason.</summary>
    public bool SetLastValue(string name, double value, int max)
    {
        MoveLastValues();
        var values = _lastValues ?? [];
        for (var i = 0; i < values.Length; i++)
        {
            if (ReferenceEquals(values[i].Name, name))
            {
                values[i] = new MetricValue(name, value);
                return true;
            }
        }

        for (var i = 0; i < values.Length; i++)
        {
            if (string.Equals(values[i].Name, name, StringComparison.Ordinal))
            {
                // Keep the caller's copy of the name: an interned catalogue name replaces one read back from the store,
                // so the next lookup matches by reference and the twin stops holding its own copy.
                values[i] = new MetricValue(name, value);
                return true;
            }
        }

        if (values.Length >= max)
        {
            return false;
        }

        // Grown by one: a device's metric names rarely change, and the array stays exactly their number.
        Array.Resize(ref values, values.Length + 1);
        values[^1] = new MetricValue(name, value);
        _lastValues = values;
        return true;
    }

    /// <summary>The last values as a new dictionary (for views of the twin).</summary>
    public Dictionary<string, double> LastValuesByName()
    {
        var copy = new Dictionary<string, double>(LastValues.Length, StringComparer.Ordinal);
        foreach (var (name, value) in LastValues)
        {
            copy[name] = value;
        }

        return copy;
    }

    private void MoveLastValues()
    {
        if (_lastValuesBefore is { } before)
        {
            _lastValues = [.. before.Select(p => new MetricValue(p.Key, p.Value))];
            _lastValuesBefore = null;
        }
    }

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

    /// <summary>The weekly rows a brand's own remaining-life model reads (<see cref="OwnRulModels"/>); null unless one
    /// serves this twin's kind. Rows are kept only from new (the device new when the model first served it, or a part
    /// replaced since); otherwise the run keeps none and says so.</summary>
    [Id(31)] public Telemetry.Models.Rul.WeeklyRun? OwnRun { get; set; }

    /// <summary>Recently resolved alerts with their history, newest last (at most 50).</summary>
    public List<OpenAlert> ClosedAlerts { get => _closedAlerts ??= []; set => _closedAlerts = value; }

    /// <summary>Events stored with the change that produced them and not delivered yet (see DeviceOutbox).</summary>
    [Id(29)] public DeviceOutbox Outbox { get; set; } = new();
}
