using System.Globalization;
using System.Text;
using Telemetry.Grains.Ingest;

namespace Telemetry.Ingest.Uplink;

/// <summary>
/// The rules of uplink v1 telemetry, whatever the encoding: the JSON and the CBOR decoder read their bytes and
/// hand every field, reading and metric to this class, which applies the limits, names, catalogue ranges and
/// types, the time window and the repeated-field rules, and fills <see cref="DecodedTelemetry"/>. One place for
/// the rules is what makes "same validation, same reason codes" true by construction, and the order of the
/// checks here decides which reason a reading with several faults gets, for both encodings alike.
/// Catalogue metric names are interned strings and other names go through a per-validator intern table, so a
/// steady stream allocates nothing per reading. Not thread-safe: each decoder owns one.
/// </summary>
internal sealed class TelemetryValidator(UplinkOptions options)
{
    /// <summary>Distinct non-catalogue metric names remembered; beyond this each occurrence allocates.</summary>
    private const int MaxInternedNames = 4096;

    private readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);
    private readonly long _maxFutureMs = (long)options.MaxFutureSkew.TotalMilliseconds;
    private readonly long _maxAgeMs = (long)options.MaxAge.TotalMilliseconds;

    /// <summary>Rejects the whole message; boot and seq read so far stay, so the rejection can be acknowledged.</summary>
    public static RejectReason Reject(DecodedTelemetry into, RejectReason reason, string detail)
    {
        into.Reason = reason;
        into.Detail = detail;
        return reason;
    }

    /// <summary>A top-level field seen twice rejects the message.</summary>
    public static RejectReason RejectRepeated(DecodedTelemetry into, TelemetryField field)
    {
        // Which of the two did the device mean? Neither is trusted: a repeated boot or seq also leaves the
        // message without a key, so it is not acknowledged on a guess.
        if (field is TelemetryField.Boot or TelemetryField.Seq)
        {
            into.Boot = null;
            into.Seq = null;
        }

        return Reject(into, RejectReason.InvalidField, $"{FieldName(field)} appears twice");
    }

    /// <summary>The message-level rules that need the whole message: required fields, version, 1..500 readings.</summary>
    public static RejectReason Finish(DecodedTelemetry into, bool sawReadings)
    {
        if (into.Version is null)
        {
            return Reject(into, RejectReason.MissingField, "v is required");
        }

        if (into.Version != 1)
        {
            return Reject(into, RejectReason.UnsupportedVersion, $"v={into.Version}; this service speaks v=1");
        }

        if (into.Boot is null)
        {
            return Reject(into, RejectReason.MissingField, "boot is required");
        }

        if (into.Seq is null)
        {
            return Reject(into, RejectReason.MissingField, "seq is required");
        }

        if (!sawReadings)
        {
            return Reject(into, RejectReason.MissingField, "readings is required");
        }

        if (into.ReadingCount == 0)
        {
            return Reject(into, RejectReason.InvalidField, "readings must hold 1-500 items");
        }

        return RejectReason.None;
    }

    /// <summary>Rejects the message when it already holds the most readings a message may; else false.</summary>
    public static bool IsFull(DecodedTelemetry into, out RejectReason reason)
    {
        reason = into.ReadingCount == DecodedTelemetry.MaxReadings
            ? Reject(into, RejectReason.TooManyReadings, $"more than {DecodedTelemetry.MaxReadings} readings")
            : RejectReason.None;
        return reason != RejectReason.None;
    }

    /// <summary>Opens the next reading; the caller has checked <see cref="IsFull"/>.</summary>
    public static ref DecodedReading StartReading(DecodedTelemetry into)
    {
        ref var reading = ref into.Readings[into.ReadingCount++];
        reading = default;
        reading.MetricStart = into.MetricCount;
        return ref reading;
    }

    /// <summary>Closes a reading: required fields, at least one metric, the time window; a rejected reading
    /// gives back the metrics it had written.</summary>
    public void EndReading(ref DecodedReading reading, DecodedTelemetry into, bool sawTs, bool sawMetrics, long nowMs)
    {
        if (reading.Reason == RejectReason.None)
        {
            if (!sawTs)
            {
                RejectReading(ref reading, into, RejectReason.MissingField, "ts is required");
            }
            else if (!sawMetrics)
            {
                RejectReading(ref reading, into, RejectReason.MissingField, "m is required");
            }
            else if (reading.MetricCount == 0)
            {
                RejectReading(ref reading, into, RejectReason.InvalidField, "m must hold 1-32 metrics");
            }
            else if (reading.TimestampMs > nowMs + _maxFutureMs)
            {
                RejectReading(ref reading, into, RejectReason.TimestampInFuture,
                    Invariant($"ts={reading.TimestampMs} is more than {_maxFutureMs / 1000} s ahead of service time {nowMs}"));
            }
            else if (reading.TimestampMs < nowMs - _maxAgeMs)
            {
                RejectReading(ref reading, into, RejectReason.TimestampTooOld,
                    Invariant($"ts={reading.TimestampMs} is more than {_maxAgeMs / 86_400_000} days before service time {nowMs}"));
            }
        }

        if (reading.Reason != RejectReason.None)
        {
            // Drop whatever metrics the rejected reading had written.
            into.MetricCount = reading.MetricStart;
            reading.MetricCount = 0;
        }
    }

    /// <summary>Rejects one reading (the first reason it gets is the one reported); the rest of the message stands.</summary>
    public static void RejectReading(ref DecodedReading reading, DecodedTelemetry into, RejectReason reason, string detail)
    {
        if (reading.Reason != RejectReason.None)
        {
            return;
        }

        reading.Reason = reason;
        reading.Detail = detail;
        into.RejectedReadings++;
    }

    /// <summary>Checks a metric name given as text: its pattern, then that the store does not write it itself.</summary>
    public static bool CheckName(ref DecodedReading reading, DecodedTelemetry into, ReadOnlySpan<byte> name)
    {
        if (!UplinkIds.IsMetricName(name))
        {
            RejectReading(ref reading, into, RejectReason.InvalidMetricName,
                $"'{Printable(name)}' does not match ^[a-z][a-z0-9_]{{0,63}}$");
            return false;
        }

        if (Storage.ReadingSchema.IsReserved(name))
        {
            RejectReading(ref reading, into, RejectReason.InvalidMetricName,
                $"'{Encoding.ASCII.GetString(name)}' is reserved: the store writes it with every reading ({string.Join(", ", Storage.ReadingSchema.Reserved)})");
            return false;
        }

        return true;
    }

    /// <summary>Checks that the reading has room for one more metric.</summary>
    public static bool CheckRoom(ref DecodedReading reading, DecodedTelemetry into)
    {
        if (reading.MetricCount == DecodedTelemetry.MaxMetricsPerReading)
        {
            RejectReading(ref reading, into, RejectReason.TooManyMetrics,
                $"more than {DecodedTelemetry.MaxMetricsPerReading} metrics");
            return false;
        }

        return true;
    }

    /// <summary>A metric whose value is not a number; <paramref name="what"/> says what it is ("a string").</summary>
    public static void RejectNotANumber(ref DecodedReading reading, DecodedTelemetry into, ReadOnlySpan<byte> name, string what) =>
        RejectReading(ref reading, into, RejectReason.NotANumber, $"{Encoding.ASCII.GetString(name)} is {what}, not a number");

    /// <summary>
    /// Adds a metric whose name passed <see cref="CheckName"/> (or is a catalogue entry) and whose value is a
    /// number: finite, in its catalogue range and type, not twice in the reading.
    /// </summary>
    public void AddMetric(ref DecodedReading reading, DecodedTelemetry into, MetricDefinition? definition, ReadOnlySpan<byte> name, double value)
    {
        if (!double.IsFinite(value))
        {
            RejectReading(ref reading, into, RejectReason.ValueOutOfRange,
                Invariant($"{Encoding.ASCII.GetString(name)}={value} is not a finite number"));
            return;
        }

        string metricName;
        if (definition is null)
        {
            metricName = Intern(name);
        }
        else
        {
            metricName = definition.Name;
            if (value < definition.Min || value > definition.Max)
            {
                RejectReading(ref reading, into, RejectReason.ValueOutOfRange,
                    Invariant($"{definition.Name}={value} outside {definition.Min}..{definition.Max}"));
                return;
            }

            if (definition.Type == MetricType.Integer && value != Math.Floor(value))
            {
                RejectReading(ref reading, into, RejectReason.InvalidField,
                    Invariant($"{definition.Name}={value} must be an integer"));
                return;
            }
        }

        foreach (var existing in into.Metrics.AsSpan(reading.MetricStart, reading.MetricCount))
        {
            // A catalogue name is one string, so it is a duplicate only of itself: a reference compare. Interned names
            // compare by reference at once too; a name the full intern table could not keep is a fresh string each
            // time and must compare by value.
            if (ReferenceEquals(existing.Name, metricName)
                || (definition is null && string.Equals(existing.Name, metricName, StringComparison.Ordinal)))
            {
                RejectReading(ref reading, into, RejectReason.InvalidField, $"{metricName} appears twice");
                return;
            }
        }

        into.Metrics[into.MetricCount++] = new MetricValue(metricName, value);
        reading.MetricCount++;
        into.HasCustomMetrics |= definition is null;
    }

    /// <summary>Up to 80 characters of a name for a detail message.</summary>
    public static string Printable(ReadOnlySpan<byte> name)
    {
        var text = Encoding.UTF8.GetString(name[..Math.Min(name.Length, 80)]);
        return text.Length < name.Length ? text + "…" : text;
    }

    public static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private string Intern(ReadOnlySpan<byte> name)
    {
        Span<char> chars = stackalloc char[name.Length];
        for (var i = 0; i < name.Length; i++)
        {
            chars[i] = (char)name[i];
        }

        var lookup = _names.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(chars, out var interned))
        {
            return interned;
        }

        var text = new string(chars);
        if (_names.Count < MaxInternedNames)
        {
            _names.Add(text, text);
        }

        return text;
    }

    private static string FieldName(TelemetryField field) => field switch
    {
        TelemetryField.Version => "v",
        TelemetryField.Boot => "boot",
        TelemetryField.Seq => "seq",
        _ => "readings",
    };
}
