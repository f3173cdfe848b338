using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Telemetry.Ingest.Storage;

/// <summary>
/// Writes InfluxDB line protocol as UTF-8, exactly: <c>measurement,tag=value field=1.5,count=3i,boot="a" 1700000000000</c>.
/// Escaping follows the InfluxDB reference: in measurements, commas and spaces; in tag keys, tag values and
/// field keys, commas, equals signs and spaces; in string field values, double quotes and backslashes.
/// Line protocol cannot carry a line break inside a name or tag value, so control characters there are
/// replaced by a space (device ids, models and batches are validated long before this, so that only
/// guards against what the validators let through). Timestamps are Unix milliseconds (<c>precision=ms</c>).
/// </summary>
internal sealed class LineProtocol
{
    /// <summary>Escaped field keys remembered; more distinct names than this start the cache over.</summary>
    private const int MaxCachedFieldKeys = 1024;

    /// <summary>Field keys looked up last, in the order they came; a line's keys come in the same order as the line before.</summary>
    private const int RecentKeys = 16;

    private readonly ArrayBufferWriter<byte> _buffer;
    private readonly Dictionary<string, byte[]> _fieldKeys = new(ReferenceEqualityComparer.Instance);
    private readonly string?[] _recentKeys = new string?[RecentKeys];
    private readonly byte[][] _recentEscaped = new byte[RecentKeys][];
    private readonly bool[] _recentIntegers = new bool[RecentKeys];
    private int _recentNext;
    private bool _firstField = true;

    public LineProtocol(int initialCapacity = 64 * 1024) => _buffer = new ArrayBufferWriter<byte>(initialCapacity);

    /// <summary>Lines completed so far.</summary>
    public int LineCount { get; private set; }

    public ReadOnlyMemory<byte> Written => _buffer.WrittenMemory;

    public void Clear()
    {
        _buffer.Clear();
        LineCount = 0;
        _firstField = true;
    }

    /// <summary>Bytes written so far.</summary>
    public int Length => _buffer.WrittenCount;

    /// <summary>Starts a line with an already escaped <c>measurement,tags</c> prefix (see <see cref="Length"/>).</summary>
    public LineProtocol Prefix(ReadOnlySpan<byte> measurementAndTags)
    {
        _firstField = true;
        measurementAndTags.CopyTo(_buffer.GetSpan(measurementAndTags.Length));
        _buffer.Advance(measurementAndTags.Length);
        return this;
    }

    public LineProtocol Measurement(string name)
    {
        _firstField = true;
        WriteEscaped(name, EscapeSet.Measurement);
        return this;
    }

    /// <summary>A tag; skipped when the value is empty (InfluxDB has no empty tag values).</summary>
    public LineProtocol Tag(string key, string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return this;
        }

        WriteByte((byte)',');
        WriteEscaped(key, EscapeSet.Key);
        WriteByte((byte)'=');
        WriteEscaped(value, EscapeSet.Key);
        return this;
    }

    public LineProtocol Field(string key, double value)
    {
        if (!double.IsFinite(value))
        {
            // InfluxDB cannot store NaN or infinity; the validators reject them before this point.
            throw new ArgumentOutOfRangeException(nameof(value), value, $"field {key} is not a finite number");
        }

        FieldKey(key);
        WriteFormatted(value);
        return this;
    }

    /// <summary>
    /// A number field typed by its key: written as an integer (<c>3i</c>) when <paramref name="isInteger"/> says so
    /// for <paramref name="key"/>, otherwise as a float. The answer is remembered with the escaped key, so a metric's
    /// type is looked up once, not for every reading.
    /// </summary>
    public LineProtocol Field(string key, double value, Func<string, bool> isInteger)
    {
        var slot = RecentSlot(key, isInteger);
        if (_recentIntegers[slot])
        {
            WriteKey(_recentEscaped[slot]);
            WriteFormatted((long)value);
            WriteByte((byte)'i');
            return this;
        }

        if (!double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, $"field {key} is not a finite number");
        }

        WriteKey(_recentEscaped[slot]);
        WriteFormatted(value);
        return this;
    }

    public LineProtocol Field(string key, long value)
    {
        FieldKey(key);
        WriteFormatted(value);
        WriteByte((byte)'i');
        return this;
    }

    public LineProtocol Field(string key, string value)
    {
        FieldKey(key);
        WriteByte((byte)'"');
        WriteEscaped(value, EscapeSet.StringField);
        WriteByte((byte)'"');
        return this;
    }

    /// <summary>Ends the line with its timestamp in Unix milliseconds.</summary>
    public void End(long timestampMs)
    {
        if (_firstField)
        {
            throw new InvalidOperationException("A line needs at least one field.");
        }

        WriteByte((byte)' ');
        WriteFormatted(timestampMs);
        WriteByte((byte)'\n');
        LineCount++;
        _firstField = true;
    }

    /// <summary>The slot of <paramref name="key"/> among the recent keys, filled from the escaped-key cache on a miss.</summary>
    private int RecentSlot(string key, Func<string, bool> isInteger)
    {
        var slot = _recentNext;
        if (!ReferenceEquals(_recentKeys[slot], key))
        {
            slot = -1;
            for (var i = 0; i < RecentKeys; i++)
            {
                if (ReferenceEquals(_recentKeys[i], key))
                {
                    slot = i;
                    break;
                }
            }

            if (slot < 0)
            {
                slot = _recentNext;
                _recentKeys[slot] = key;
                _recentEscaped[slot] = EscapedKey(key);
                _recentIntegers[slot] = isInteger(key);
            }
        }

        _recentNext = (slot + 1) % RecentKeys;
        return slot;
    }

    private void WriteKey(byte[] escaped)
    {
        var span = _buffer.GetSpan(escaped.Length + 1);
        span[0] = _firstField ? (byte)' ' : (byte)',';
        _firstField = false;
        escaped.CopyTo(span[1..]);
        _buffer.Advance(escaped.Length + 1);
    }

    /// <summary>The key escaped and followed by '=', from the cache (by reference) or made and remembered.</summary>
    private byte[] EscapedKey(string key)
    {
        if (_fieldKeys.TryGetValue(key, out var escaped))
        {
            return escaped;
        }

        var scratch = new byte[MaxEscapedLength(key) + 1];
        var length = Escape(key, EscapeSet.Key, scratch);
        scratch[length] = (byte)'=';
        escaped = scratch[..(length + 1)];
        if (_fieldKeys.Count >= MaxCachedFieldKeys)
        {
            _fieldKeys.Clear();
        }

        _fieldKeys[key] = escaped;
        return escaped;
    }

    /// <summary>Field keys are a handful of metric names, written for every reading: each is escaped once. Names reach
    /// here interned (the catalogue's, or the decoder's per-partition table), so the lookup is by reference.</summary>
    private void FieldKey(string key) => WriteKey(EscapedKey(key));

    private enum EscapeSet
    {
        Measurement,
        Key,
        StringField,
    }

    private static readonly SearchValues<char> MeasurementSpecials = SearchValues.Create(", " + Controls());
    private static readonly SearchValues<char> KeySpecials = SearchValues.Create(",= " + Controls());
    private static readonly SearchValues<char> StringSpecials = SearchValues.Create("\"\\");

    private static string Controls() => new([.. Enumerable.Range(0, 32).Select(i => (char)i), (char)127]);

    /// <summary>The most bytes <see cref="Escape"/> can write for <paramref name="text"/>.</summary>
    private static int MaxEscapedLength(string text) => (text.Length * 6) + 4;

    private void WriteEscaped(string text, EscapeSet set) =>
        _buffer.Advance(Escape(text, set, _buffer.GetSpan(MaxEscapedLength(text))));

    /// <summary>Writes <paramref name="text"/> escaped for <paramref name="set"/> as UTF-8; returns the bytes written.</summary>
    private static int Escape(string text, EscapeSet set, Span<byte> span)
    {
        var specials = set switch
        {
            EscapeSet.Measurement => MeasurementSpecials,
            EscapeSet.Key => KeySpecials,
            _ => StringSpecials,
        };
        if (!text.AsSpan().ContainsAny(specials) && !text.AsSpan().ContainsAnyInRange('\u0080', '\u009F'))
        {
            // The common case (catalogue names, ids): nothing to escape or replace, so encode in one go.
            return Encoding.UTF8.GetBytes(text, span);
        }

        var written = 0;
        foreach (var original in text.EnumerateRunes())
        {
            var rune = set != EscapeSet.StringField && Rune.IsControl(original) ? new Rune(' ') : original;
            var c = rune.Value;
            var escape = set switch
            {
                EscapeSet.Measurement => c is ',' or ' ',
                EscapeSet.Key => c is ',' or '=' or ' ',
                _ => c is '"' or '\\',
            };
            if (escape)
            {
                span[written++] = (byte)'\\';
            }

            written += rune.EncodeToUtf8(span[written..]);
        }

        return written;
    }

    private void WriteFormatted(double value)
    {
        var span = _buffer.GetSpan(32);
        if (TryWriteShortDecimal(value, span, out var shortLength))
        {
            _buffer.Advance(shortLength);
            return;
        }

        // "R"-equivalent shortest round-trip form; a whole number stays a float field because it has no 'i'.
        if (!Utf8Formatter.TryFormat(value, span, out var written))
        {
            throw new InvalidOperationException("float did not fit");
        }

        _buffer.Advance(written);
    }

    private static readonly double[] PowersOfTen = [1, 10, 100, 1000];

    /// <summary>
    /// Sensor values are mostly whole numbers or a few decimals (5012.3, 9.8, 171): those are written from their
    /// digits, which is exact and several times cheaper than the general shortest round-trip formatting (a third of
    /// the line protocol's CPU under perf). <paramref name="value"/> equals <c>m / 10^k</c> computed in IEEE
    /// arithmetic for an integer m below 2^53 and k ≤ 3 exactly when it is the double nearest to that decimal (a
    /// division by an exact power of ten is correctly rounded), so the decimal reads back as the same double; below
    /// 10^15 no shorter decimal does, and the general formatter writes the same digits. Anything else (more
    /// decimals, large or tiny magnitudes, negative zero) takes the general path.
    /// </summary>
    internal static bool TryWriteShortDecimal(double value, Span<byte> destination, out int written)
    {
        written = 0;
        var magnitude = Math.Abs(value);
        if (!(magnitude < 1e12) || (value == 0 && double.IsNegative(value)))
        {
            return false;
        }

        for (var decimals = 0; decimals < PowersOfTen.Length; decimals++)
        {
            var scaled = magnitude * PowersOfTen[decimals];
            var digits = Math.Round(scaled);
            if (digits / PowersOfTen[decimals] != magnitude)
            {
                continue;
            }

            var units = (long)digits;
            var position = 0;
            if (value < 0)
            {
                destination[position++] = (byte)'-';
            }

            if (decimals == 0)
            {
                Utf8Formatter.TryFormat(units, destination[position..], out var count);
                written = position + count;
                return true;
            }

            var divisor = (long)PowersOfTen[decimals];
            var whole = units / divisor;
            var fraction = units % divisor;
            Utf8Formatter.TryFormat(whole, destination[position..], out var wholeCount);
            position += wholeCount;
            destination[position++] = (byte)'.';
            // The fraction with its leading zeros, then without trailing ones (2.50 is written 2.5).
            var end = position + decimals;
            for (var i = end - 1; i >= position; i--)
            {
                destination[i] = (byte)('0' + (fraction % 10));
                fraction /= 10;
            }

            while (destination[end - 1] == (byte)'0')
            {
                end--;
            }

            written = end;
            return true;
        }

        return false;
    }

    private void WriteFormatted(long value)
    {
        var span = _buffer.GetSpan(24);
        Utf8Formatter.TryFormat(value, span, out var written);
        _buffer.Advance(written);
    }

    private void WriteByte(byte b)
    {
        _buffer.GetSpan(1)[0] = b;
        _buffer.Advance(1);
    }
}
