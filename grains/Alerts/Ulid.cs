using System.Security.Cryptography;

namespace Telemetry.Grains.Alerts;

/// <summary>
/// ULIDs (48-bit millisecond time, 80 random bits, Crockford base32): unique without coordination across
/// silos, and sortable by creation time, which makes "newest first" a string sort.
/// </summary>
public static class Ulid
{
    private const string Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    public static string New(DateTimeOffset at)
    {
        Span<byte> bytes = stackalloc byte[16];
        var ms = (ulong)Math.Max(0, at.ToUnixTimeMilliseconds());
        for (var i = 5; i >= 0; i--)
        {
            bytes[i] = (byte)(ms & 0xFF);
            ms >>= 8;
        }

        RandomNumberGenerator.Fill(bytes[6..]);

        Span<char> chars = stackalloc char[26];
        // 128 bits as 26 base32 digits: the first digit carries the top 3 bits.
        var hi = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes);
        var lo = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]);
        var value = new UInt128(hi, lo);
        for (var i = 25; i >= 0; i--)
        {
            chars[i] = Alphabet[(int)(value & 31)];
            value >>= 5;
        }

        return new string(chars);
    }
}
