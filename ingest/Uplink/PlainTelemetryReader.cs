using System.Buffers;
using System.Text;

namespace Telemetry.Ingest.Uplink;

/// <summary>
/// Reads the telemetry message that firmware actually sends, in one pass over its bytes and without a JSON tokenizer
/// (tokenizing was the largest single stage of a drain under perf, a sixth of the CPU). It knows only the plain shape:
/// the known fields once each (and unknown ones that hold a string or a number), ASCII strings without escapes, numbers of at most 15 digits without an exponent, and
/// numbers wherever the contract wants them. At the first byte outside that shape it gives up, and
/// <see cref="TelemetryDecoder"/> reads the message again with <see cref="System.Text.Json.Utf8JsonReader"/>, which
/// knows all of JSON and words every fault. So every message-level rejection is the general reader's, and this reader
/// only finishes where it cannot differ from it: it hands each reading and metric to the same
/// <see cref="TelemetryValidator"/> calls in the same order (differential tests and the fuzz harness check it).
/// </summary>
internal static class PlainTelemetryReader
{
    /// <summary>Bytes that end a plain string: its quote, or anything that needs the general reader (an escape, a
    /// control character JSON forbids there, a byte outside ASCII that must be checked as UTF-8).</summary>
    private static readonly SearchValues<byte> StringEnd = SearchValues.Create(
        [.. Enumerable.Range(0, 0x20).Select(b => (byte)b), (byte)'"', (byte)'\\', .. Enumerable.Range(0x80, 0x80).Select(b => (byte)b)]);

    /// <summary>
    /// Decodes <paramref name="payload"/> into <paramref name="into"/> and sets <paramref name="reason"/> when the
    /// message has the plain shape; false, with <paramref name="into"/> to be reset and read again, when it does not.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> payload, long nowMs, TelemetryValidator rules, DecodedTelemetry into, out RejectReason reason)
    {
        reason = RejectReason.None;
        var i = SkipSpace(payload, 0);
        if (!Expect(payload, ref i, (byte)'{'))
        {
            return false;
        }

        var seen = TelemetryField.None;
        if (!Close(payload, ref i, (byte)'}'))
        {
            do
            {
                if (!TryName(payload, ref i, out var name))
                {
                    return false;
                }

                var field = name.SequenceEqual("v"u8) ? TelemetryField.Version
                    : name.SequenceEqual("boot"u8) ? TelemetryField.Boot
                    : name.SequenceEqual("seq"u8) ? TelemetryField.Seq
                    : name.SequenceEqual("readings"u8) ? TelemetryField.Readings
                    : TelemetryField.None;
                if (field == TelemetryField.None)
                {
                    // Unknown fields are ignored (v1 may grow optional ones); one that holds more than a string or a
                    // number is for the general reader to skip.
                    if (!TryString(payload, ref i, out _) && !TryNumber(payload, ref i, out _))
                    {
                        return false;
                    }

                    continue;
                }

                // A repeated field is for the general reader, which words the rejection.
                if ((seen & field) != 0)
                {
                    return false;
                }

                seen |= field;
                if (!TryField(payload, ref i, field, nowMs, rules, into))
                {
                    return false;
                }
            }
            while (Separator(payload, ref i, (byte)'}', out var more) && more);

            if (i < 0)
            {
                return false;
            }
        }

        if (SkipSpace(payload, i) != payload.Length)
        {
            return false;
        }

        reason = TelemetryValidator.Finish(into, (seen & TelemetryField.Readings) != 0);
        return true;
    }

    private static bool TryField(ReadOnlySpan<byte> payload, ref int i, TelemetryField field, long nowMs, TelemetryValidator rules, DecodedTelemetry into)
    {
        switch (field)
        {
            case TelemetryField.Version when TryInteger(payload, ref i, int.MaxValue, out var version):
                into.Version = (int)version;
                return true;
            case TelemetryField.Seq when TryInteger(payload, ref i, uint.MaxValue, out var seq):
                into.Seq = (uint)seq;
                return true;
            case TelemetryField.Boot:
                return TryBoot(payload, ref i, into);
            case TelemetryField.Readings:
                return TryReadings(payload, ref i, nowMs, rules, into);
            default:
                return false;
        }
    }

    private static bool TryBoot(ReadOnlySpan<byte> payload, ref int i, DecodedTelemetry into)
    {
        if (!TryString(payload, ref i, out var boot) || !UplinkIds.IsBootId(boot))
        {
            return false;
        }

        into.Boot = Encoding.ASCII.GetString(boot);
        return true;
    }

    private static bool TryReadings(ReadOnlySpan<byte> payload, ref int i, long nowMs, TelemetryValidator rules, DecodedTelemetry into)
    {
        if (!Expect(payload, ref i, (byte)'['))
        {
            return false;
        }

        if (Close(payload, ref i, (byte)']'))
        {
            return true;
        }

        do
        {
            // The 501st reading rejects the message, and the general reader says so.
            if (into.ReadingCount == DecodedTelemetry.MaxReadings || !Expect(payload, ref i, (byte)'{'))
            {
                return false;
            }

            ref var reading = ref TelemetryValidator.StartReading(into);
            if (!TryReading(payload, ref i, ref reading, nowMs, rules, into))
            {
                return false;
            }
        }
        while (Separator(payload, ref i, (byte)']', out var more) && more);

        return i >= 0;
    }

    private static bool TryReading(ReadOnlySpan<byte> payload, ref int i, ref DecodedReading reading, long nowMs, TelemetryValidator rules, DecodedTelemetry into)
    {
        var sawTs = false;
        var sawMetrics = false;
        if (!Close(payload, ref i, (byte)'}'))
        {
            do
            {
                if (!TryName(payload, ref i, out var name))
                {
                    return false;
                }

                if (name.SequenceEqual("ts"u8) && !sawTs)
                {
                    sawTs = true;
                    // A reading already rejected by its metrics ignores its ts; the general reader skips any value there.
                    if (!TryInteger(payload, ref i, long.MaxValue, out var ts))
                    {
                        return false;
                    }

                    reading.TimestampMs = reading.Reason == RejectReason.None ? ts : reading.TimestampMs;
                }
                else if (name.SequenceEqual("m"u8) && !sawMetrics)
                {
                    sawMetrics = true;
                    if (!Expect(payload, ref i, (byte)'{') || !TryMetrics(payload, ref i, ref reading, rules, into))
                    {
                        return false;
                    }
                }
                else
                {
                    return false;
                }
            }
            while (Separator(payload, ref i, (byte)'}', out var more) && more);

            if (i < 0)
            {
                return false;
            }
        }

        rules.EndReading(ref reading, into, sawTs, sawMetrics, nowMs);
        return true;
    }

    private static bool TryMetrics(ReadOnlySpan<byte> payload, ref int i, ref DecodedReading reading, TelemetryValidator rules, DecodedTelemetry into)
    {
        if (Close(payload, ref i, (byte)'}'))
        {
            return true;
        }

        do
        {
            if (!TryName(payload, ref i, out var name) || !TryNumber(payload, ref i, out var number))
            {
                return false;
            }

            // The general reader's order: a rejected reading skips the rest, then the name, then room for one more.
            var definition = MetricCatalogue.Find(name);
            if (reading.Reason != RejectReason.None
                || (definition is null && !TelemetryValidator.CheckName(ref reading, into, name))
                || !TelemetryValidator.CheckRoom(ref reading, into))
            {
                continue;
            }

            if (!TelemetryDecoder.TryParseShortNumber(number, out var value))
            {
                return false;
            }

            rules.AddMetric(ref reading, into, definition, name, value);
        }
        while (Separator(payload, ref i, (byte)'}', out var more) && more);

        return i >= 0;
    }

    /// <summary>A property name and its colon, with the space around them.</summary>
    private static bool TryName(ReadOnlySpan<byte> payload, ref int i, out ReadOnlySpan<byte> name)
    {
        if (!TryString(payload, ref i, out name))
        {
            return false;
        }

        i = SkipSpace(payload, i);
        if (i >= payload.Length || payload[i] != (byte)':')
        {
            return false;
        }

        i = SkipSpace(payload, i + 1);
        return true;
    }

    private static bool TryString(ReadOnlySpan<byte> payload, ref int i, out ReadOnlySpan<byte> value)
    {
        value = default;
        if (i >= payload.Length || payload[i] != (byte)'"')
        {
            return false;
        }

        var rest = payload[(i + 1)..];
        var end = rest.IndexOfAny(StringEnd);
        if (end < 0 || rest[end] != (byte)'"')
        {
            return false;
        }

        value = rest[..end];
        i += end + 2;
        return true;
    }

    /// <summary>
    /// A JSON number without an exponent (<c>-?(0|[1-9][0-9]*)(\.[0-9]+)?</c>) that a delimiter ends. Anything else
    /// there, an exponent included, is for the general reader.
    /// </summary>
    private static bool TryNumber(ReadOnlySpan<byte> payload, ref int i, out ReadOnlySpan<byte> number)
    {
        number = default;
        var start = i;
        var at = i;
        if (at < payload.Length && payload[at] == (byte)'-')
        {
            at++;
        }

        if (at >= payload.Length || !char.IsAsciiDigit((char)payload[at]))
        {
            return false;
        }

        if (payload[at++] != (byte)'0')
        {
            while (at < payload.Length && char.IsAsciiDigit((char)payload[at]))
            {
                at++;
            }
        }

        if (at < payload.Length && payload[at] == (byte)'.')
        {
            var fraction = ++at;
            while (at < payload.Length && char.IsAsciiDigit((char)payload[at]))
            {
                at++;
            }

            if (at == fraction)
            {
                return false;
            }
        }

        if (at < payload.Length && payload[at] is not ((byte)',' or (byte)'}' or (byte)']' or (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t'))
        {
            return false;
        }

        number = payload[start..at];
        i = at;
        return true;
    }

    /// <summary>A non-negative integer of at most 18 digits and at most <paramref name="max"/>: what <c>TryGetInt32</c>,
    /// <c>TryGetUInt32</c> and <c>TryGetInt64</c> accept without doubt. A sign or a fraction is for the general reader.</summary>
    private static bool TryInteger(ReadOnlySpan<byte> payload, ref int i, long max, out long value)
    {
        value = 0;
        if (!TryNumber(payload, ref i, out var number) || number.Length > 18 || number[0] == (byte)'-')
        {
            return false;
        }

        foreach (var digit in number)
        {
            if (digit == (byte)'.')
            {
                return false;
            }

            value = (value * 10) + (digit - '0');
        }

        return value <= max;
    }

    private static int SkipSpace(ReadOnlySpan<byte> payload, int i)
    {
        while (i < payload.Length && payload[i] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')
        {
            i++;
        }

        return i;
    }

    /// <summary>Takes <paramref name="open"/> and the space after it.</summary>
    private static bool Expect(ReadOnlySpan<byte> payload, ref int i, byte open)
    {
        if (i >= payload.Length || payload[i] != open)
        {
            return false;
        }

        i = SkipSpace(payload, i + 1);
        return true;
    }

    /// <summary>Takes <paramref name="close"/> when it comes next: an empty object or array.</summary>
    private static bool Close(ReadOnlySpan<byte> payload, ref int i, byte close)
    {
        if (i >= payload.Length || payload[i] != close)
        {
            return false;
        }

        i++;
        return true;
    }

    /// <summary>
    /// After a member: a comma (<paramref name="more"/>) or <paramref name="close"/>. Anything else sets
    /// <paramref name="i"/> to -1, which the caller reads as "not the plain shape".
    /// </summary>
    private static bool Separator(ReadOnlySpan<byte> payload, ref int i, byte close, out bool more)
    {
        more = false;
        if (i < 0)
        {
            return false;
        }

        i = SkipSpace(payload, i);
        if (i < payload.Length && payload[i] == (byte)',')
        {
            i = SkipSpace(payload, i + 1);
            more = true;
            return true;
        }

        if (i < payload.Length && payload[i] == close)
        {
            i++;
            return true;
        }

        i = -1;
        return false;
    }
}
