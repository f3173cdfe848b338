using System.Globalization;
using System.Text;
using System.Text.Json;
using Telemetry.Grains.Ingest;

namespace Telemetry.Ingest.Uplink;

/// <summary>
/// Decodes and validates a telemetry payload of uplink v1 with <see cref="Utf8JsonReader"/>, straight off
/// the bytes. Message-level faults reject the whole message; reading-level faults reject only that reading.
/// Catalogue metric names map to interned strings and other names to a per-decoder intern table, so a
/// steady stream allocates nothing per reading. Not thread-safe: each pipeline partition owns one.
/// </summary>
internal sealed class TelemetryDecoder(UplinkOptions options)
{
    /// <summary>Payloads larger than this are refused before parsing (uplink v1: 64 KiB).</summary>
    public const int MaxPayloadBytes = 64 * 1024;

    /// <summary>Distinct non-catalogue metric names remembered; beyond this each occurrence allocates.</summary>
    private const int MaxInternedNames = 4096;

    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 8 };

    private readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);
    private readonly long _maxFutureMs = (long)options.MaxFutureSkew.TotalMilliseconds;
    private readonly long _maxAgeMs = (long)options.MaxAge.TotalMilliseconds;

    /// <summary>Decodes <paramref name="payload"/> into <paramref name="into"/>; returns the message-level reason.</summary>
    public RejectReason Decode(ReadOnlySpan<byte> payload, long nowMs, DecodedTelemetry into)
    {
        into.Reset();
        if (payload.Length > MaxPayloadBytes)
        {
            return Reject(into, RejectReason.PayloadTooLarge, $"{payload.Length} bytes, limit {MaxPayloadBytes}");
        }

        // JSON text is UTF-8 (RFC 8259 §8.1); the reader checks only the strings it is asked to decode, so an
        // invalid byte in a skipped field would otherwise pass. One vectorised pass costs next to nothing.
        if (!System.Text.Unicode.Utf8.IsValid(payload))
        {
            return Reject(into, RejectReason.MalformedJson, "payload is not valid UTF-8");
        }

        try
        {
            var reader = new Utf8JsonReader(payload, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return Reject(into, RejectReason.MalformedJson, "payload must be a JSON object");
            }

            var sawReadings = false;
            var seen = Field.None;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var field = reader.ValueTextEquals("v"u8) ? Field.Version
                    : reader.ValueTextEquals("boot"u8) ? Field.Boot
                    : reader.ValueTextEquals("seq"u8) ? Field.Seq
                    : reader.ValueTextEquals("readings"u8) ? Field.Readings
                    : Field.None;
                if ((seen & field) != 0)
                {
                    // Which of the two did the device mean? Neither is trusted: a repeated boot or seq also
                    // leaves the message without a key, so it is not acknowledged on a guess.
                    if (field is Field.Boot or Field.Seq)
                    {
                        into.Boot = null;
                        into.Seq = null;
                    }

                    return Reject(into, RejectReason.InvalidField, $"{FieldName(field)} appears twice");
                }

                seen |= field;
                if (field == Field.Version)
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var version))
                    {
                        return Reject(into, RejectReason.InvalidField, "v must be an integer");
                    }

                    into.Version = version;
                }
                else if (field == Field.Boot)
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped || !UplinkIds.IsBootId(reader.ValueSpan))
                    {
                        return Reject(into, RejectReason.InvalidField, "boot must be 1-32 characters of A-Z a-z 0-9 _ -");
                    }

                    into.Boot = Encoding.ASCII.GetString(reader.ValueSpan);
                }
                else if (field == Field.Seq)
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetUInt32(out var seq))
                    {
                        return Reject(into, RejectReason.InvalidField, "seq must be an integer 0..4294967295");
                    }

                    into.Seq = seq;
                }
                else if (field == Field.Readings)
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartArray)
                    {
                        return Reject(into, RejectReason.InvalidField, "readings must be an array");
                    }

                    sawReadings = true;
                    var reason = ReadReadings(ref reader, nowMs, into);
                    if (reason != RejectReason.None)
                    {
                        return reason;
                    }
                }
                else
                {
                    // Unknown fields are ignored: v1 may grow optional fields without a new version. An escaped
                    // name is still decoded, so a broken one (a lone surrogate) is malformed wherever it stands.
                    CheckEscapedName(ref reader);
                    reader.Read();
                    reader.Skip();
                }
            }

            if (reader.Read())
            {
                return Reject(into, RejectReason.MalformedJson, "unexpected content after the object");
            }

            return Validate(into, sawReadings);
        }
        catch (JsonException e)
        {
            return Reject(into, RejectReason.MalformedJson, e.Message);
        }
        catch (InvalidOperationException e)
        {
            // The reader throws this, not JsonException, when it unescapes a name with a lone surrogate
            // ("\ud800"), as ValueTextEquals and CopyString do: broken text, not a bug of ours.
            return Reject(into, RejectReason.MalformedJson, e.Message);
        }
    }

    private static RejectReason Validate(DecodedTelemetry into, bool sawReadings)
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

    private RejectReason ReadReadings(ref Utf8JsonReader reader, long nowMs, DecodedTelemetry into)
    {
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (into.ReadingCount == DecodedTelemetry.MaxReadings)
            {
                return Reject(into, RejectReason.TooManyReadings, $"more than {DecodedTelemetry.MaxReadings} readings");
            }

            ref var reading = ref into.Readings[into.ReadingCount++];
            reading = default;
            reading.MetricStart = into.MetricCount;
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                RejectReading(ref reading, into, RejectReason.InvalidField, "a reading must be an object");
                continue;
            }

            ReadReading(ref reader, ref reading, into);
            if (reading.Reason == RejectReason.None)
            {
                if (reading.TimestampMs > nowMs + _maxFutureMs)
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

        return RejectReason.None;
    }

    private void ReadReading(ref Utf8JsonReader reader, ref DecodedReading reading, DecodedTelemetry into)
    {
        var sawTs = false;
        var sawMetrics = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("ts"u8))
            {
                if (sawTs)
                {
                    RejectReading(ref reading, into, RejectReason.InvalidField, "ts appears twice");
                }

                reader.Read();
                if (reading.Reason != RejectReason.None)
                {
                    reader.Skip();
                }
                else if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out reading.TimestampMs))
                {
                    // An object or array must be skipped whole, or its members would be read as the reading's.
                    reader.Skip();
                    RejectReading(ref reading, into, RejectReason.InvalidField, "ts must be an integer (Unix epoch ms)");
                }

                sawTs = true;
            }
            else if (reader.ValueTextEquals("m"u8))
            {
                if (sawMetrics)
                {
                    RejectReading(ref reading, into, RejectReason.InvalidField, "m appears twice");
                }

                reader.Read();
                sawMetrics = true;
                if (reading.Reason != RejectReason.None)
                {
                    reader.Skip();
                    continue;
                }

                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    reader.Skip();
                    RejectReading(ref reading, into, RejectReason.InvalidField, "m must be an object of metrics");
                    continue;
                }

                ReadMetrics(ref reader, ref reading, into);
            }
            else
            {
                CheckEscapedName(ref reader);
                reader.Read();
                reader.Skip();
            }
        }

        if (reading.Reason != RejectReason.None)
        {
            return;
        }

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
    }

    private void ReadMetrics(ref Utf8JsonReader reader, ref DecodedReading reading, DecodedTelemetry into)
    {
        // Escaped names (\u0061…) are unescaped into a stack buffer; one longer than that cannot be valid.
        Span<byte> unescaped = stackalloc byte[MetricCatalogue.MaxNameLength * 6];
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.ValueIsEscaped && reader.ValueSpan.Length <= unescaped.Length
                ? unescaped[..reader.CopyString(unescaped)]
                : reader.ValueSpan;

            // Consume the value before deciding, so a rejected reading still leaves the reader in place.
            reader.Read();
            if (reading.Reason != RejectReason.None)
            {
                reader.Skip();
                continue;
            }

            if (!UplinkIds.IsMetricName(name))
            {
                reader.Skip();
                RejectReading(ref reading, into, RejectReason.InvalidMetricName,
                    $"'{Printable(name)}' does not match ^[a-z][a-z0-9_]{{0,63}}$");
                continue;
            }

            if (Storage.ReadingSchema.IsReserved(name))
            {
                reader.Skip();
                RejectReading(ref reading, into, RejectReason.InvalidMetricName,
                    $"'{Encoding.ASCII.GetString(name)}' is reserved: the store writes it with every reading ({string.Join(", ", Storage.ReadingSchema.Reserved)})");
                continue;
            }

            if (reading.MetricCount == DecodedTelemetry.MaxMetricsPerReading)
            {
                reader.Skip();
                RejectReading(ref reading, into, RejectReason.TooManyMetrics,
                    $"more than {DecodedTelemetry.MaxMetricsPerReading} metrics");
                continue;
            }

            if (reader.TokenType != JsonTokenType.Number)
            {
                var kind = reader.TokenType;
                reader.Skip();
                RejectReading(ref reading, into, RejectReason.NotANumber,
                    $"{Encoding.ASCII.GetString(name)} is {Describe(kind)}, not a number");
                continue;
            }

            if (!reader.TryGetDouble(out var value) || !double.IsFinite(value))
            {
                RejectReading(ref reading, into, RejectReason.ValueOutOfRange,
                    $"{Encoding.ASCII.GetString(name)}={Encoding.ASCII.GetString(reader.ValueSpan)} is not a finite number");
                continue;
            }

            var definition = MetricCatalogue.Find(name);
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
                    continue;
                }

                if (definition.Type == MetricType.Integer && value != Math.Floor(value))
                {
                    RejectReading(ref reading, into, RejectReason.InvalidField,
                        Invariant($"{definition.Name}={value} must be an integer"));
                    continue;
                }
            }

            var metrics = into.Metrics.AsSpan(reading.MetricStart, reading.MetricCount);
            foreach (var existing in metrics)
            {
                // Interned names compare by reference at once; a name the full intern table could not keep is
                // a fresh string each time and must compare by value.
                if (string.Equals(existing.Name, metricName, StringComparison.Ordinal))
                {
                    RejectReading(ref reading, into, RejectReason.InvalidField, $"{metricName} appears twice");
                    break;
                }
            }

            if (reading.Reason == RejectReason.None)
            {
                into.Metrics[into.MetricCount++] = new MetricValue(metricName, value);
                reading.MetricCount++;
                into.HasCustomMetrics |= definition is null;
            }
        }
    }

    /// <summary>Decodes an escaped property name only to see that it can be (rare: names are plain ASCII).
    /// Throws <see cref="InvalidOperationException"/> for a lone surrogate, which the caller turns into malformed_json.</summary>
    private static void CheckEscapedName(ref Utf8JsonReader reader)
    {
        if (reader.ValueIsEscaped)
        {
            _ = reader.GetString();
        }
    }

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

    private static void RejectReading(ref DecodedReading reading, DecodedTelemetry into, RejectReason reason, string detail)
    {
        if (reading.Reason != RejectReason.None)
        {
            return;
        }

        reading.Reason = reason;
        reading.Detail = detail;
        into.RejectedReadings++;
    }

    private static RejectReason Reject(DecodedTelemetry into, RejectReason reason, string detail)
    {
        into.Reason = reason;
        into.Detail = detail;
        return reason;
    }

    private static string Describe(JsonTokenType kind) => kind switch
    {
        JsonTokenType.String => "a string",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        _ => "not a number",
    };

    private static string Printable(ReadOnlySpan<byte> name)
    {
        var text = Encoding.UTF8.GetString(name[..Math.Min(name.Length, 80)]);
        return text.Length < name.Length ? text + "…" : text;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static string FieldName(Field field) => field switch
    {
        Field.Version => "v",
        Field.Boot => "boot",
        Field.Seq => "seq",
        _ => "readings",
    };

    /// <summary>The top-level fields of a telemetry message, as flags of the ones seen.</summary>
    [Flags]
    private enum Field
    {
        None = 0,
        Version = 1,
        Boot = 2,
        Seq = 4,
        Readings = 8,
    }
}
