using System.Buffers;
using System.Text;

namespace Telemetry.Ingest.Uplink;

/// <summary>
/// Reads the telemetry message that firmware actually sends, in one pass over its bytes and without a JSON tokenizer
/// (tokenizing was the largest single stage of a drain under perf, a sixth of the CPU). It knows only the plain
/// shape: <c>v</c>, <c>boot</c>, <c>seq</c> and <c>readings</c> once each, unknown top-level fields that hold a
/// string or a number, readings of <c>ts</c> and <c>m</c> once each, ASCII strings without escapes, numbers without
/// an exponent, integers where the contract wants integers (at most 18 digits, no sign), and metric values of at most
/// 15 digits (<see cref="TelemetryDecoder.TryParseShortNumber"/>). At the first byte outside that shape it gives up,
/// and <see cref="TelemetryDecoder"/> reads the message again with <see cref="System.Text.Json.Utf8JsonReader"/>,
/// which knows all of JSON and words every fault of syntax and fields. This reader only finishes where it cannot
/// differ from it: every reading, metric and the message's final checks go to the same
/// <see cref="TelemetryValidator"/> calls in the same order (differential tests and the fuzz harness check it). A
/// message that leaves the shape late is read twice, so it costs more than with the general reader alone.
/// </summary>
internal static class PlainTelemetryReader
{
    /// <summary>Bytes that end a plain string: its quote, or anything that needs the general reader (an escape, a
    /// control character JSON forbids there, a byte outside ASCII that must be checked as UTF-8).</summary>
    private static readonly SearchValues<byte> StringEnd = SearchValues.Create(
        [.. Enumerable.Range(0, 0x20).Select(b => (byte)b), (byte)'"', (byte)'\\', .. Enumerable.Range(0x80, 0x80).Select(b => (byte)b)]);

    /// <summary>What follows a member of an object or an array.</summary>
    private enum After
    {
        /// <summary>A comma: another member.</summary>
        More,

        /// <summary>The closing bracket.</summary>
        End,

        /// <summary>Anything else: not the plain shape.</summary>
        Other,
    }

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
            After after;
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
                // A repeated field is for the general reader, which words the rejection.
                if ((seen & field) != 0 || !TryField(payload, ref i, field, nowMs, rules, into))
                {
                    return false;
                }

                seen |= field;
                after = Next(payload, ref i, (byte)'}');
            }
            while (after == After.More);

            if (after == After.Other)
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
        long number;
        switch (field)
        {
            case TelemetryField.Version:
                if (!TryInteger(payload, ref i, int.MaxValue, out number))
                {
                    return false;
                }

                into.Version = (int)number;
                return true;
            case TelemetryField.Seq:
                if (!TryInteger(payload, ref i, uint.MaxValue, out number))
                {
                    return false;
                }

                into.Seq = (uint)number;
                return true;
            case TelemetryField.Boot:
                if (!TryString(payload, ref i, out var boot) || !UplinkIds.IsBootId(boot))
                {
                    return false;
                }

                into.Boot = Encoding.ASCII.GetString(boot);
                return true;
            case TelemetryField.Readings:
                return TryReadings(payload, ref i, nowMs, rules, into);
            default:
                // Unknown fields are ignored (v1 may grow optional ones); one that holds more than a string or a
                // number is for the general reader to skip.
                return TryString(payload, ref i, out _) || TryNumber(payload, ref i, out _);
        }
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

        After after;
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

            after = Next(payload, ref i, (byte)']');
        }
        while (after == After.More);

        return after == After.End;
    }

    private static bool TryReading(ReadOnlySpan<byte> payload, ref int i, ref DecodedReading reading, long nowMs, TelemetryValidator rules, DecodedTelemetry into)
    {
        var sawTs = false;
        var sawMetrics = false;
        if (!Close(payload, ref i, (byte)'}'))
        {
            After after;
            do
            {
                if (!TryName(payload, ref i, out var name))
                {
                    return false;
                }

                if (name.SequenceEqual("ts"u8) && !sawTs)
                {
                    sawTs = true;
                    if (!TryInteger(payload, ref i, long.MaxValue, out var ts))
                    {
                        return false;
                    }

                    // A reading its metrics already rejected ignores its ts, as the general reader skips it.
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
                    // An unknown or repeated field of a reading.
                    return false;
                }

                after = Next(payload, ref i, (byte)'}');
            }
            while (after == After.More);

            if (after == After.Other)
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

        After after;
        do
        {
            if (!TryName(payload, ref i, out var name) || !TryNumber(payload, ref i, out var number))
            {
                return false;
            }

            // The general reader's order: a rejected reading skips the rest, then the name, then room for one more.
            var definition = MetricCatalogue.Find(name);
            if (reading.Reason == RejectReason.None
                && (definition is not null || TelemetryValidator.CheckName(ref reading, into, name))
                && TelemetryValidator.CheckRoom(ref reading, into))
            {
                if (!TelemetryDecoder.TryParseShortNumber(number, out var value))
                {
                    return false;
                }

                rules.AddMetric(ref reading, into, definition, name, value);
            }

            after = Next(payload, ref i, (byte)'}');
        }
        while (after == After.More);

        return after == After.End;
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
    /// A JSON number without an exponent: <c>-?(0|[1-9][0-9]*)(\.[0-9]+)?</c>. What comes after it is the caller's to
    /// check, so an exponent (or anything else glued to the number) leaves the plain shape there.
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

    /// <summary>After a member: a comma and the space after it, or <paramref name="close"/>.</summary>
    private static After Next(ReadOnlySpan<byte> payload, ref int i, byte close)
    {
        i = SkipSpace(payload, i);
        if (i < payload.Length && payload[i] == (byte)',')
        {
            i = SkipSpace(payload, i + 1);
            return After.More;
        }

        if (i < payload.Length && payload[i] == close)
        {
            i++;
            return After.End;
        }

        return After.Other;
    }
}
