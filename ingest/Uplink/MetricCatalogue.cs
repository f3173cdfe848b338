namespace Telemetry.Ingest.Uplink;

/// <summary>
/// The metric catalogue of uplink v1 (shoe and band tables merged: the one name they share, battery_pct,
/// has the same type and range in both). Lookup goes straight from the UTF-8 name in the payload to the
/// definition, bucketed by length, so a reading costs no string.
/// </summary>
internal static class MetricCatalogue
{
    public const int MaxNameLength = 64;

    public static readonly MetricDefinition[] All =
    [
        // Shoe: one reading summarises an interval of activity.
        new("distance_m", MetricType.Float, 0, 50_000, "m"),
        new("duration_s", MetricType.Float, 0, 86_400, "s"),
        new("steps", MetricType.Integer, 0, 100_000, "count"),
        new("impact_g", MetricType.Float, 0, 40, "g"),
        new("contact_ms", MetricType.Float, 0, 2_000, "ms"),
        new("cadence_spm", MetricType.Float, 0, 300, "steps/min"),
        new("pronation_deg", MetricType.Float, -45, 45, "degrees"),
        new("midsole_temp_c", MetricType.Float, -40, 85, "°C"),
        new("battery_pct", MetricType.Float, 0, 100, "%"),
        // Band: a periodic sample or a charge-cycle summary.
        new("battery_mv", MetricType.Float, 2_500, 4_500, "mV"),
        new("capacity_mah", MetricType.Float, 0, 5_000, "mAh"),
        new("charge_cycles", MetricType.Integer, 0, 1_000_000, "count"),
        new("temp_c", MetricType.Float, -40, 85, "°C"),
        new("humidity_pct", MetricType.Float, 0, 100, "%"),
        new("hr_snr_db", MetricType.Float, -20, 60, "dB"),
        new("fault_code", MetricType.Integer, 0, 65_535, "code"),
    ];

    private static readonly MetricDefinition[][] ByLength = BuildIndex();

    private static readonly System.Collections.Frozen.FrozenDictionary<string, MetricDefinition> ByName =
        System.Collections.Frozen.FrozenDictionary.ToFrozenDictionary(All, d => d.Name, StringComparer.Ordinal);

    /// <summary>Metrics only a shoe sends; the kind of a device without a birth is guessed from them.</summary>
    public static bool IsShoeOnly(string name) => name is "distance_m" or "duration_s" or "steps" or "impact_g"
        or "contact_ms" or "cadence_spm" or "pronation_deg" or "midsole_temp_c";

    /// <summary>Metrics only a band sends.</summary>
    public static bool IsBandOnly(string name) => name is "battery_mv" or "capacity_mah" or "charge_cycles" or "temp_c" or "humidity_pct" or "hr_snr_db";

    /// <summary>The stored type of a metric: integer metrics are integer fields, so a field never changes type.</summary>
    public static MetricType TypeOf(string name) => ByName.TryGetValue(name, out var d) ? d.Type : MetricType.Float;

    public static MetricDefinition? Find(ReadOnlySpan<byte> utf8Name)
    {
        if (utf8Name.Length >= ByLength.Length)
        {
            return null;
        }

        foreach (var definition in ByLength[utf8Name.Length])
        {
            if (utf8Name.SequenceEqual(definition.Utf8Name))
            {
                return definition;
            }
        }

        return null;
    }

    public static MetricDefinition? Find(string name) => All.FirstOrDefault(d => d.Name == name);

    /// <summary>Whether <paramref name="name"/> is a catalogue metric.</summary>
    public static bool Contains(string name) => ByName.ContainsKey(name);

    private static MetricDefinition[][] BuildIndex()
    {
        var index = new MetricDefinition[MaxNameLength + 1][];
        for (var length = 0; length < index.Length; length++)
        {
            index[length] = [.. All.Where(d => d.Utf8Name.Length == length)];
        }

        return index;
    }
}
