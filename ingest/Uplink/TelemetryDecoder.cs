using System.Text;
using System.Text.Json;

namespace Telemetry.Ingest.Uplink;

/// <summary>
/// Decodes a telemetry payload of uplink v1 in JSON with <see cref="Utf8JsonReader"/>, straight off the bytes,
/// and hands each field, reading and metric to <see cref="TelemetryValidator"/>, which holds the rules it shares
/// with <see cref="CborTelemetryDecoder"/>. Message-level faults reject the whole message; reading-level faults
/// reject only that reading. A steady stream allocates nothing per reading. A message of the plain shape firmware
/// sends is read first by <see cref="PlainTelemetryReader"/>, without the tokenizer; anything else, and every
/// message-level fault, is read here. Not thread-safe: each pipeline partition owns one.
/// </summary>
/// <param name="options">The uplink's limits.</param>
/// <param name="plainPath">False reads every message with <see cref="Utf8JsonReader"/> (for the tests that compare the two).</param>
internal sealed class TelemetryDecoder(UplinkOptions options, bool plainPath = true)
{
    /// <summary>Payloads larger than this are refused before parsing (uplink v1: 64 KiB, whatever the encoding).</summary>
    public const int MaxPayloadBytes = 64 * 1024;

    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 8 };

    private readonly TelemetryValidator _rules = new(options);

    /// <summary>Decodes <paramref name="payload"/> into <paramref name="into"/>; returns the message-level reason.</summary>
    public RejectReason Decode(ReadOnlySpan<byte> payload, long nowMs, DecodedTelemetry into)
    {
        into.Reset();
        if (payload.Length > MaxPayloadBytes)
        {
            return TelemetryValidator.Reject(into, RejectReason.PayloadTooLarge, $"{payload.Length} bytes, limit {MaxPayloadBytes}");
        }

        if (plainPath && PlainTelemetryReader.TryDecode(payload, nowMs, _rules, into, out var plain))
        {
            return plain;
        }

        into.Reset();

        // JSON text is UTF-8 (RFC 8259 §8.1); the reader checks only the strings it is asked to decode, so an
        // invalid byte in a skipped field would otherwise pass. One vectorised pass costs next to nothing.
        if (!System.Text.Unicode.Utf8.IsValid(payload))
        {
            return TelemetryValidator.Reject(into, RejectReason.MalformedJson, "payload is not valid UTF-8");
        }

        try
        {
            var reader = new Utf8JsonReader(payload, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return TelemetryValidator.Reject(into, RejectReason.MalformedJson, "payload must be a JSON object");
            }

            var sawReadings = false;
            var seen = TelemetryField.None;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var field = reader.ValueTextEquals("v"u8) ? TelemetryField.Version
                    : reader.ValueTextEquals("boot"u8) ? TelemetryField.Boot
                    : reader.ValueTextEquals("seq"u8) ? TelemetryField.Seq
                    : reader.ValueTextEquals("readings"u8) ? TelemetryField.Readings
                    : TelemetryField.None;
                if ((seen & field) != 0)
                {
                    return TelemetryValidator.RejectRepeated(into, field);
                }

                seen |= field;
                if (field == TelemetryField.Version)
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var version))
                    {
                        return TelemetryValidator.Reject(into, RejectReason.InvalidField, "v must be an integer");
                    }

                    into.Version = version;
                }
                else if (field == TelemetryField.Boot)
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped || !UplinkIds.IsBootId(reader.ValueSpan))
                    {
                        return TelemetryValidator.Reject(into, RejectReason.InvalidField, "boot must be 1-32 characters of A-Z a-z 0-9 _ -");
                    }

                    into.Boot = Encoding.ASCII.GetString(reader.ValueSpan);
                }
                else if (field == TelemetryField.Seq)
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetUInt32(out var seq))
                    {
                        return TelemetryValidator.Reject(into, RejectReason.InvalidField, "seq must be an integer 0..4294967295");
                    }

                    into.Seq = seq;
                }
                else if (field == TelemetryField.Readings)
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartArray)
                    {
                        return TelemetryValidator.Reject(into, RejectReason.InvalidField, "readings must be an array");
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
                return TelemetryValidator.Reject(into, RejectReason.MalformedJson, "unexpected content after the object");
            }

            return TelemetryValidator.Finish(into, sawReadings);
        }
        catch (JsonException e)
        {
            return TelemetryValidator.Reject(into, RejectReason.MalformedJson, e.Message);
        }
        catch (InvalidOperationException e)
        {
            // The reader throws this, not JsonException, when it unescapes a name with a lone surrogate
            // ("\ud800"), as ValueTextEquals and CopyString do: broken text, not a bug of ours.
            return TelemetryValidator.Reject(into, RejectReason.MalformedJson, e.Message);
        }
    }

    private RejectReason ReadReadings(ref Utf8JsonReader reader, long nowMs, DecodedTelemetry into)
    {
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (TelemetryValidator.IsFull(into, out var full))
            {
                return full;
            }

            ref var reading = ref TelemetryValidator.StartReading(into);
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                TelemetryValidator.RejectReading(ref reading, into, RejectReason.InvalidField, "a reading must be an object");
                continue;
            }

            ReadReading(ref reader, ref reading, into, nowMs);
        }

        return RejectReason.None;
    }

    private void ReadReading(ref Utf8JsonReader reader, ref DecodedReading reading, DecodedTelemetry into, long nowMs)
    {
        var sawTs = false;
        var sawMetrics = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("ts"u8))
            {
                if (sawTs)
                {
                    TelemetryValidator.RejectReading(ref reading, into, RejectReason.InvalidField, "ts appears twice");
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
                    TelemetryValidator.RejectReading(ref reading, into, RejectReason.InvalidField, "ts must be an integer (Unix epoch ms)");
                }

                sawTs = true;
            }
            else if (reader.ValueTextEquals("m"u8))
            {
                if (sawMetrics)
                {
                    TelemetryValidator.RejectReading(ref reading, into, RejectReason.InvalidField, "m appears twice");
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
                    TelemetryValidator.RejectReading(ref reading, into, RejectReason.InvalidField, "m must be an object of metrics");
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

        _rules.EndReading(ref reading, into, sawTs, sawMetrics, nowMs);
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
            // A catalogue name is a valid, unreserved name by construction: only others need the checks.
            var definition = MetricCatalogue.Find(name);
            if (reading.Reason != RejectReason.None
                || (definition is null && !TelemetryValidator.CheckName(ref reading, into, name))
                || !TelemetryValidator.CheckRoom(ref reading, into))
            {
                reader.Skip();
                continue;
            }

            if (reader.TokenType != JsonTokenType.Number)
            {
                var kind = reader.TokenType;
                reader.Skip();
                TelemetryValidator.RejectNotANumber(ref reading, into, name, Describe(kind));
                continue;
            }

            if (!TryParseShortNumber(reader.ValueSpan, out var value) && (!reader.TryGetDouble(out value) || !double.IsFinite(value)))
            {
                TelemetryValidator.RejectReading(ref reading, into, RejectReason.ValueOutOfRange,
                    $"{Encoding.ASCII.GetString(name)}={Encoding.ASCII.GetString(reader.ValueSpan)} is not a finite number");
                continue;
            }

            _rules.AddMetric(ref reading, into, definition, name, value);
        }
    }

    private static readonly double[] PowersOfTen = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

    /// <summary>
    /// Parses the JSON numbers devices send (<c>5012.3</c>, <c>-12</c>, <c>171</c>: a sign, at most 15 digits, a
    /// fraction, no exponent) without the general parser, which was a twentieth of the drain's CPU under perf.
    /// Exact: with at most 15 digits the digits are an integer m below 2^53 and the fraction k ≤ 15 digits long, so m
    /// and 10^k are exact doubles and m / 10^k, one correctly rounded division, is the double nearest to the decimal,
    /// which is what the general parser returns (Clinger's fast path). Anything else returns false for the general
    /// parser. <paramref name="raw"/> is a number token the reader has already validated as JSON.
    /// </summary>
    internal static bool TryParseShortNumber(ReadOnlySpan<byte> raw, out double value)
    {
        value = 0;
        var i = 0;
        var negative = raw.Length > 0 && raw[0] == (byte)'-';
        if (negative)
        {
            i++;
        }

        long digits = 0;
        var count = 0;
        var fraction = -1;
        for (; i < raw.Length; i++)
        {
            var b = raw[i];
            if (b == (byte)'.' && fraction < 0)
            {
                fraction = 0;
                continue;
            }

            if (b is < (byte)'0' or > (byte)'9' || ++count > 15)
            {
                // An exponent, or more digits than the fast path is exact for.
                return false;
            }

            digits = (digits * 10) + (b - '0');
            if (fraction >= 0)
            {
                fraction++;
            }
        }

        if (count == 0)
        {
            return false;
        }

        value = fraction > 0 ? digits / PowersOfTen[fraction] : digits;
        value = negative ? -value : value;
        return true;
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

    private static string Describe(JsonTokenType kind) => kind switch
    {
        JsonTokenType.String => "a string",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        _ => "not a number",
    };
}
