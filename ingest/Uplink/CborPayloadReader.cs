using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text.Unicode;

namespace Telemetry.Ingest.Uplink;

/// <summary>
/// A forward-only reader of CBOR (RFC 8949) over a span, for <see cref="CborTelemetryDecoder"/>: no allocation,
/// and every length checked against the bytes that are left before it is believed. <c>TryRead…</c> methods
/// consume the next item only when it has the type asked for, so the caller can <see cref="Skip"/> it whole
/// otherwise. Bytes that are not well-formed CBOR throw <see cref="MalformedCborException"/>, and so do text
/// strings that are not UTF-8 and nesting deeper than <see cref="MaxDepth"/>.
/// <para>
/// System.Formats.Cbor's <c>CborReader</c> is the general-purpose reader, and the tests use it as an independent
/// check of what this one accepts. On the hot path, merely walking a message's items with it (nullable counters,
/// a frame stack and map-key tracking per item) takes half the time of the whole JSON decode and twice that of the
/// whole decode here (bench/CborBenchmarks.cs, docs/uplink.md), so a decoder on it would miss issue #12's target
/// of twice the JSON decode rate. The uplink format needs eight item types and a bounded skip.
/// </para>
/// </summary>
internal ref struct CborPayloadReader(ReadOnlySpan<byte> data)
{
    /// <summary>Deepest nesting of arrays, maps and tags, the root map being depth 1: the JSON decoder's limit.</summary>
    public const int MaxDepth = 8;

    /// <summary>The count <see cref="TryReadStartMap"/> and <see cref="TryReadStartArray"/> give an indefinite-length item.</summary>
    public const int Indefinite = -1;

    private const byte Break = 0xFF;

    private readonly ReadOnlySpan<byte> _data = data;
    private int _offset;

    public readonly bool AtEnd => _offset >= _data.Length;

    /// <summary>Consumes the self-described CBOR tag 55799 (<c>D9 D9 F7</c>) if the payload starts with it: RFC 8949
    /// §3.4.6 makes it a magic number that a decoder may skip, and some encoders put it in front of every item.</summary>
    public void SkipSelfDescribeTag()
    {
        if (_data[_offset..].StartsWith((ReadOnlySpan<byte>)[0xD9, 0xD9, 0xF7]))
        {
            _offset += 3;
        }
    }

    /// <summary>Whether a container with <paramref name="remaining"/> items left (or <see cref="Indefinite"/>) has
    /// another; consumes the break that ends an indefinite-length one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool MoreItems(ref int remaining)
    {
        if (remaining > 0)
        {
            remaining--;
            return true;
        }

        return remaining < 0 && !TryReadBreak();
    }

    public bool TryReadStartMap(out int count) => TryReadStart(CborMajorType.Map, 2, out count);

    public bool TryReadStartArray(out int count) => TryReadStart(CborMajorType.Array, 1, out count);

    /// <summary>An unsigned integer of any size.</summary>
    public bool TryReadUnsigned(out ulong value)
    {
        var head = PeekHead();
        value = head.Argument;
        return head.Major == CborMajorType.UnsignedInteger && Advance(head);
    }

    public bool TryReadUInt32(out uint value)
    {
        var head = PeekHead();
        value = (uint)head.Argument;
        return head.Major == CborMajorType.UnsignedInteger && head.Argument <= uint.MaxValue && Advance(head);
    }

    /// <summary>An unsigned or negative integer within <see cref="int"/>.</summary>
    public bool TryReadInt32(out int value)
    {
        var ok = TryReadInt64(out var wide, int.MinValue, int.MaxValue);
        value = (int)wide;
        return ok;
    }

    /// <summary>An unsigned or negative integer within <see cref="long"/>.</summary>
    public bool TryReadInt64(out long value) => TryReadInt64(out value, long.MinValue, long.MaxValue);

    /// <summary>Any number: an unsigned or negative integer, or a half-, single- or double-precision float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReadNumber(out double value)
    {
        var head = PeekHead();
        switch (head.Major)
        {
            case CborMajorType.UnsignedInteger:
                value = head.Argument;
                return Advance(head);
            case CborMajorType.NegativeInteger:
                // -1 - n, in double arithmetic: n may be up to 2^64 - 1.
                value = -1.0 - head.Argument;
                return Advance(head);
            case CborMajorType.Simple when head.AdditionalInfo is >= 25 and <= 27:
                var bits = _data.Slice(_offset + 1, head.Length - 1);
                value = head.AdditionalInfo switch
                {
                    25 => (double)BinaryPrimitives.ReadHalfBigEndian(bits),
                    26 => BinaryPrimitives.ReadSingleBigEndian(bits),
                    _ => BinaryPrimitives.ReadDoubleBigEndian(bits),
                };
                return Advance(head);
            default:
                value = 0;
                return false;
        }
    }

    /// <summary>A definite-length text string, checked to be UTF-8. An indefinite-length (chunked) one is not
    /// read: it would need copying, and the format allows only definite-length keys, boot ids and names.</summary>
    public bool TryReadText(out ReadOnlySpan<byte> text)
    {
        var head = PeekHead();
        if (head.Major != CborMajorType.TextString || head.IsIndefinite)
        {
            text = default;
            return false;
        }

        text = Bytes(head);
        return true;
    }

    /// <summary>What the next item is, for a detail message ("a string", "a map").</summary>
    public readonly string DescribeNext()
    {
        var head = PeekHead();
        return head.Major switch
        {
            CborMajorType.UnsignedInteger => "an integer",
            CborMajorType.NegativeInteger => "a negative integer",
            CborMajorType.ByteString => "a byte string",
            CborMajorType.TextString when head.IsIndefinite => "a string in chunks",
            CborMajorType.TextString => "a string",
            CborMajorType.Array => "an array",
            CborMajorType.Map => "a map",
            CborMajorType.Tag => FormattableString.Invariant($"a tagged item (tag {head.Argument})"),
            _ => head.AdditionalInfo switch
            {
                20 or 21 => "a boolean",
                22 => "null",
                23 => "undefined",
                >= 25 and <= 27 => "a float",
                _ => "a simple value",
            },
        };
    }

    /// <summary>
    /// Skips the next item whole, checking that it is well-formed. <paramref name="depth"/> is the depth the item
    /// stands at (its container's plus one); an array, map or tag deeper than <see cref="MaxDepth"/> is malformed,
    /// which also bounds this recursion. Every item takes at least one byte, so skipping is linear in the payload.
    /// </summary>
    public void Skip(int depth)
    {
        var head = PeekHead();
        switch (head.Major)
        {
            case CborMajorType.UnsignedInteger or CborMajorType.NegativeInteger:
                Advance(head);
                return;
            case CborMajorType.ByteString or CborMajorType.TextString when !head.IsIndefinite:
                Bytes(head);
                return;
            case CborMajorType.ByteString or CborMajorType.TextString:
                // Chunks are definite-length strings of the same type (RFC 8949 §3.2.3), each one UTF-8 in a text string.
                _offset++;
                while (!TryReadBreak())
                {
                    var chunk = PeekHead();
                    if (chunk.Major != head.Major || chunk.IsIndefinite)
                    {
                        throw Malformed("a chunk of an indefinite-length string is not a definite-length string of its type");
                    }

                    Bytes(chunk);
                }

                return;
            case CborMajorType.Array or CborMajorType.Map:
                var itemsPerEntry = head.Major == CborMajorType.Map ? 2 : 1;
                if (!TryReadStart(head.Major, itemsPerEntry, out var count))
                {
                    throw Malformed("unreadable container");
                }

                CheckDepth(depth);
                while (MoreItems(ref count))
                {
                    for (var i = 0; i < itemsPerEntry; i++)
                    {
                        Skip(depth + 1);
                    }
                }

                return;
            case CborMajorType.Tag:
                CheckDepth(depth);
                Advance(head);
                Skip(depth + 1);
                return;
            default:
                // Simple values and floats; PeekHead has already refused a break and a two-byte simple value below 32.
                Advance(head);
                return;
        }
    }

    private bool TryReadStart(CborMajorType major, int itemsPerEntry, out int count)
    {
        var head = PeekHead();
        if (head.Major != major)
        {
            count = 0;
            return false;
        }

        Advance(head);
        if (head.IsIndefinite)
        {
            count = Indefinite;
            return true;
        }

        // Each item takes at least a byte: a count beyond what is left is a lie, and refusing it here keeps every
        // loop over the items bounded by the payload, whatever the head claims (up to 2^64 - 1).
        var left = (ulong)(_data.Length - _offset);
        if (head.Argument > left / (ulong)itemsPerEntry)
        {
            throw Malformed(FormattableString.Invariant($"a {(major == CborMajorType.Map ? "map" : "array")} declares {head.Argument} entries with {left} bytes left"));
        }

        count = (int)head.Argument;
        return true;
    }

    private bool TryReadInt64(out long value, long min, long max)
    {
        var head = PeekHead();
        value = 0;
        if (head.Major == CborMajorType.UnsignedInteger && head.Argument <= (ulong)max)
        {
            value = (long)head.Argument;
        }
        else if (head.Major == CborMajorType.NegativeInteger && head.Argument <= (ulong)(-1 - min))
        {
            value = -1 - (long)head.Argument;
        }
        else
        {
            return false;
        }

        return Advance(head);
    }

    private bool TryReadBreak()
    {
        if (_offset >= _data.Length)
        {
            throw Malformed("the payload ends inside an indefinite-length item");
        }

        if (_data[_offset] != Break)
        {
            return false;
        }

        _offset++;
        return true;
    }

    /// <summary>Consumes a definite-length string and returns its bytes, UTF-8 checked for a text string.</summary>
    private ReadOnlySpan<byte> Bytes(Head head)
    {
        var start = _offset + head.Length;
        if (head.Argument > (ulong)(_data.Length - start))
        {
            throw Malformed(FormattableString.Invariant($"a string declares {head.Argument} bytes with {_data.Length - start} left"));
        }

        var bytes = _data.Slice(start, (int)head.Argument);
        if (head.Major == CborMajorType.TextString && !Utf8.IsValid(bytes))
        {
            throw Malformed("a text string is not valid UTF-8");
        }

        _offset = start + bytes.Length;
        return bytes;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Advance(Head head)
    {
        _offset += head.Length;
        return true;
    }

    /// <summary>Reads the next item's head (RFC 8949 §3): major type, additional information and argument, without
    /// consuming it. Refuses what is never well-formed wherever it stands.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private readonly Head PeekHead()
    {
        var offset = _offset;
        if ((uint)offset >= (uint)_data.Length)
        {
            throw Malformed("the payload ends where an item was expected");
        }

        var initial = _data[offset];
        var info = initial & 0x1F;
        if (info < 24)
        {
            return new Head(initial, (ulong)info, 1);
        }

        return PeekLongHead(initial, info);
    }

    private readonly Head PeekLongHead(byte initial, int info)
    {
        var major = (CborMajorType)(initial >> 5);
        if (info == 31)
        {
            // Indefinite length exists for strings, arrays and maps; elsewhere 0x1F is a break out of place.
            return major is CborMajorType.ByteString or CborMajorType.TextString or CborMajorType.Array or CborMajorType.Map
                ? new Head(initial, 0, 1)
                : throw Malformed(major == CborMajorType.Simple ? "a break where an item was expected" : "an integer or tag of indefinite length");
        }

        if (info > 27)
        {
            throw Malformed(FormattableString.Invariant($"reserved additional information {info}"));
        }

        var size = 1 << (info - 24);
        var bytes = _data[(_offset + 1)..];
        if (bytes.Length < size)
        {
            throw Malformed("the payload ends inside an item's head");
        }

        var argument = size switch
        {
            1 => bytes[0],
            2 => BinaryPrimitives.ReadUInt16BigEndian(bytes),
            4 => BinaryPrimitives.ReadUInt32BigEndian(bytes),
            _ => BinaryPrimitives.ReadUInt64BigEndian(bytes),
        };
        if (major == CborMajorType.Simple && size == 1 && argument < 32)
        {
            throw Malformed("a two-byte simple value below 32 (RFC 8949 §3.3)");
        }

        return new Head(initial, argument, 1 + size);
    }

    private readonly void CheckDepth(int depth)
    {
        if (depth > MaxDepth)
        {
            throw Malformed(FormattableString.Invariant($"nested deeper than {MaxDepth} levels"));
        }
    }

    private readonly MalformedCborException Malformed(string problem) =>
        new(FormattableString.Invariant($"CBOR: {problem} (byte {_offset})"));

    /// <summary>An item's head: its first byte, the argument that follows, and the head's length in bytes.</summary>
    private readonly record struct Head(byte Initial, ulong Argument, int Length)
    {
        public CborMajorType Major => (CborMajorType)(Initial >> 5);

        public int AdditionalInfo => Initial & 0x1F;

        public bool IsIndefinite => AdditionalInfo == 31;
    }
}
