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

    private readonly ArrayBufferWriter<byte> _buffer;
    private readonly Dictionary<string, byte[]> _fieldKeys = new(ReferenceEqualityComparer.Instance);
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

    private void FieldKey(string key)
    {
        WriteByte(_firstField ? (byte)' ' : (byte)',');
        _firstField = false;
        // Field keys are a handful of metric names, written for every reading: escape each once. Names reach here
        // interned (the catalogue's, or the decoder's per-partition table), so the lookup is by reference.
        if (!_fieldKeys.TryGetValue(key, out var escaped))
        {
            var start = _buffer.WrittenCount;
            WriteEscaped(key, EscapeSet.Key);
            WriteByte((byte)'=');
            if (_fieldKeys.Count >= MaxCachedFieldKeys)
            {
                _fieldKeys.Clear();
            }

            _fieldKeys[key] = _buffer.WrittenSpan[start..].ToArray();
            return;
        }

        escaped.CopyTo(_buffer.GetSpan(escaped.Length));
        _buffer.Advance(escaped.Length);
    }

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

    private void WriteEscaped(string text, EscapeSet set)
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
            _buffer.Advance(Encoding.UTF8.GetBytes(text, _buffer.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length))));
            return;
        }

        var span = _buffer.GetSpan((text.Length * 6) + 4);
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

        _buffer.Advance(written);
    }

    private void WriteFormatted(double value)
    {
        var span = _buffer.GetSpan(32);
        // "R"-equivalent shortest round-trip form; a whole number stays a float field because it has no 'i'.
        if (!Utf8Formatter.TryFormat(value, span, out var written))
        {
            throw new InvalidOperationException("float did not fit");
        }

        _buffer.Advance(written);
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
