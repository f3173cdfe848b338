using System.Text;

namespace Telemetry.Ingest.Uplink;

/// <summary>
/// Decodes a telemetry payload of uplink v1 in CBOR (docs/uplink.md, "Telemetry in CBOR") into the same
/// <see cref="DecodedTelemetry"/> as the JSON decoder, through the same <see cref="TelemetryValidator"/>, so both
/// encodings get the same rules and the same reason codes. Keys are small integers or the JSON field names;
/// metrics are keyed by their catalogue index or by name. A payload that is not well-formed CBOR is
/// <c>malformed_json</c>, the uplink's reason for "cannot be parsed in its encoding". A steady stream allocates
/// nothing per reading. Not thread-safe: each pipeline partition owns one.
/// </summary>
internal sealed class CborTelemetryDecoder(UplinkOptions options)
{
    // Depths of the items the decoder reads, for skipping what it does not: the message map is depth 1.
    private const int MessageValueDepth = 2;
    private const int ReadingDepth = 3;
    private const int ReadingValueDepth = 4;
    private const int MetricValueDepth = 5;

    private readonly TelemetryValidator _rules = new(options);

    /// <summary>Decodes <paramref name="payload"/> into <paramref name="into"/>; returns the message-level reason.</summary>
    public RejectReason Decode(ReadOnlySpan<byte> payload, long nowMs, DecodedTelemetry into)
    {
        into.Reset();
        if (payload.Length > TelemetryDecoder.MaxPayloadBytes)
        {
            return TelemetryValidator.Reject(into, RejectReason.PayloadTooLarge, $"{payload.Length} bytes, limit {TelemetryDecoder.MaxPayloadBytes}");
        }

        try
        {
            var reader = new CborPayloadReader(payload);
            if (reader.AtEnd)
            {
                return TelemetryValidator.Reject(into, RejectReason.MalformedJson, "payload must be a CBOR map; it is empty");
            }

            reader.SkipSelfDescribeTag();
            if (!reader.TryReadStartMap(out var fields))
            {
                return TelemetryValidator.Reject(into, RejectReason.MalformedJson, "payload must be a CBOR map");
            }

            var sawReadings = false;
            var seen = TelemetryField.None;
            while (reader.MoreItems(ref fields))
            {
                var field = ReadMessageKey(ref reader);
                if ((seen & field) != 0)
                {
                    return TelemetryValidator.RejectRepeated(into, field);
                }

                seen |= field;
                switch (field)
                {
                    case TelemetryField.Version:
                        if (!reader.TryReadInt32(out var version))
                        {
                            return TelemetryValidator.Reject(into, RejectReason.InvalidField, "v must be an integer");
                        }

                        into.Version = version;
                        break;
                    case TelemetryField.Boot:
                        if (!reader.TryReadText(out var boot) || !UplinkIds.IsBootId(boot))
                        {
                            return TelemetryValidator.Reject(into, RejectReason.InvalidField, "boot must be 1-32 characters of A-Z a-z 0-9 _ -");
                        }

                        into.Boot = Encoding.ASCII.GetString(boot);
                        break;
                    case TelemetryField.Seq:
                        if (!reader.TryReadUInt32(out var seq))
                        {
                            return TelemetryValidator.Reject(into, RejectReason.InvalidField, "seq must be an integer 0..4294967295");
                        }

                        into.Seq = seq;
                        break;
                    case TelemetryField.Readings:
                        if (!reader.TryReadStartArray(out var count))
                        {
                            return TelemetryValidator.Reject(into, RejectReason.InvalidField, "readings must be an array");
                        }

                        sawReadings = true;
                        var reason = ReadReadings(ref reader, count, nowMs, into);
                        if (reason != RejectReason.None)
                        {
                            return reason;
                        }

                        break;
                    default:
                        // Unknown fields are ignored, as in JSON: v1 may grow optional fields without a new version.
                        reader.Skip(MessageValueDepth);
                        break;
                }
            }

            if (!reader.AtEnd)
            {
                return TelemetryValidator.Reject(into, RejectReason.MalformedJson, "unexpected content after the map");
            }

            return TelemetryValidator.Finish(into, sawReadings);
        }
        catch (MalformedCborException e)
        {
            return TelemetryValidator.Reject(into, RejectReason.MalformedJson, e.Message);
        }
    }

    /// <summary>A key of the message map: 0-3 or the JSON names; anything else is an unknown field (skipped).</summary>
    private static TelemetryField ReadMessageKey(ref CborPayloadReader reader)
    {
        if (reader.TryReadUnsigned(out var key))
        {
            return key switch
            {
                0 => TelemetryField.Version,
                1 => TelemetryField.Boot,
                2 => TelemetryField.Seq,
                3 => TelemetryField.Readings,
                _ => TelemetryField.None,
            };
        }

        if (reader.TryReadText(out var name))
        {
            return name.SequenceEqual("v"u8) ? TelemetryField.Version
                : name.SequenceEqual("boot"u8) ? TelemetryField.Boot
                : name.SequenceEqual("seq"u8) ? TelemetryField.Seq
                : name.SequenceEqual("readings"u8) ? TelemetryField.Readings
                : TelemetryField.None;
        }

        reader.Skip(MessageValueDepth);
        return TelemetryField.None;
    }

    private RejectReason ReadReadings(ref CborPayloadReader reader, int count, long nowMs, DecodedTelemetry into)
    {
        while (reader.MoreItems(ref count))
        {
            if (TelemetryValidator.IsFull(into, out var full))
            {
                return full;
            }

            ref var reading = ref TelemetryValidator.StartReading(into);
            if (!reader.TryReadStartMap(out var fields))
            {
                reader.Skip(ReadingDepth);
                TelemetryValidator.RejectReading(ref reading, into, RejectReason.InvalidField, "a reading must be a map");
                continue;
            }

            ReadReading(ref reader, fields, ref reading, into, nowMs);
        }

        return RejectReason.None;
    }

    private void ReadReading(ref CborPayloadReader reader, int fields, ref DecodedReading reading, DecodedTelemetry into, long nowMs)
    {
        var sawTs = false;
        var sawMetrics = false;
        while (reader.MoreItems(ref fields))
        {
            var field = ReadReadingKey(ref reader);
            if (field == ReadingField.Timestamp)
            {
                if (sawTs)
                {
                    TelemetryValidator.RejectReading(ref reading, into, RejectReason.InvalidField, "ts appears twice");
                }

                if (reading.Reason != RejectReason.None)
                {
                    reader.Skip(ReadingValueDepth);
                }
                else if (!reader.TryReadInt64(out reading.TimestampMs))
                {
                    reader.Skip(ReadingValueDepth);
                    TelemetryValidator.RejectReading(ref reading, into, RejectReason.InvalidField, "ts must be an integer (Unix epoch ms)");
                }

                sawTs = true;
            }
            else if (field == ReadingField.Metrics)
            {
                if (sawMetrics)
                {
                    TelemetryValidator.RejectReading(ref reading, into, RejectReason.InvalidField, "m appears twice");
                }

                sawMetrics = true;
                if (reading.Reason != RejectReason.None)
                {
                    reader.Skip(ReadingValueDepth);
                }
                else if (!reader.TryReadStartMap(out var metrics))
                {
                    reader.Skip(ReadingValueDepth);
                    TelemetryValidator.RejectReading(ref reading, into, RejectReason.InvalidField, "m must be a map of metrics");
                }
                else
                {
                    ReadMetrics(ref reader, metrics, ref reading, into);
                }
            }
            else
            {
                reader.Skip(ReadingValueDepth);
            }
        }

        _rules.EndReading(ref reading, into, sawTs, sawMetrics, nowMs);
    }

    /// <summary>A key of a reading map: 0 or "ts", 1 or "m"; anything else is an unknown field (skipped).</summary>
    private static ReadingField ReadReadingKey(ref CborPayloadReader reader)
    {
        if (reader.TryReadUnsigned(out var key))
        {
            return key switch
            {
                0 => ReadingField.Timestamp,
                1 => ReadingField.Metrics,
                _ => ReadingField.None,
            };
        }

        if (reader.TryReadText(out var name))
        {
            return name.SequenceEqual("ts"u8) ? ReadingField.Timestamp
                : name.SequenceEqual("m"u8) ? ReadingField.Metrics
                : ReadingField.None;
        }

        reader.Skip(ReadingValueDepth);
        return ReadingField.None;
    }

    private void ReadMetrics(ref CborPayloadReader reader, int count, ref DecodedReading reading, DecodedTelemetry into)
    {
        var catalogue = MetricCatalogue.All;
        while (reader.MoreItems(ref count))
        {
            // The key first, whatever happens to the value: the reader must move past both.
            MetricDefinition? definition = null;
            ReadOnlySpan<byte> name = default;
            string? badKey = null;
            if (reader.TryReadUnsigned(out var index))
            {
                if (index < (ulong)catalogue.Length)
                {
                    definition = catalogue[(int)index];
                    name = definition.Utf8Name;
                }
                else
                {
                    badKey = TelemetryValidator.Invariant(
                        $"metric key {index} is not a catalogue index (0..{catalogue.Length - 1}); send a metric outside the catalogue by name");
                }
            }
            else if (reader.TryReadText(out name))
            {
                definition = MetricCatalogue.Find(name);
            }
            else
            {
                badKey = $"a metric key must be a catalogue index or a definite-length text name, not {reader.DescribeNext()}";
                reader.Skip(MetricValueDepth);
            }

            if (reading.Reason != RejectReason.None)
            {
                reader.Skip(MetricValueDepth);
                continue;
            }

            if (badKey is not null)
            {
                reader.Skip(MetricValueDepth);
                TelemetryValidator.RejectReading(ref reading, into, RejectReason.InvalidMetricName, badKey);
                continue;
            }

            // A catalogue entry's name passes the name rules by construction (a unit test holds it to that).
            if ((definition is null && !TelemetryValidator.CheckName(ref reading, into, name))
                || !TelemetryValidator.CheckRoom(ref reading, into))
            {
                reader.Skip(MetricValueDepth);
                continue;
            }

            if (!reader.TryReadNumber(out var value))
            {
                var what = reader.DescribeNext();
                reader.Skip(MetricValueDepth);
                TelemetryValidator.RejectNotANumber(ref reading, into, name, what);
                continue;
            }

            _rules.AddMetric(ref reading, into, definition, name, value);
        }
    }

    /// <summary>The fields of a reading the decoder reads.</summary>
    private enum ReadingField
    {
        None,
        Timestamp,
        Metrics,
    }
}
