namespace Telemetry.Ingest.Uplink;

/// <summary>
/// The identifier rules of uplink v1, checked byte by byte (no regex on the hot path):
/// device ids <c>^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$</c>, model and batch ids <c>^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$</c>,
/// boot ids 1–32 of <c>[A-Za-z0-9_-]</c>, metric names <c>^[a-z][a-z0-9_]{0,63}$</c>.
/// </summary>
internal static class UplinkIds
{
    public static bool IsDeviceId(ReadOnlySpan<char> id) => IsId(id, allowDot: false);

    public static bool IsModelOrBatchId(ReadOnlySpan<char> id) => IsId(id, allowDot: true);

    public static bool IsBootId(ReadOnlySpan<byte> boot)
    {
        if (boot.Length is 0 or > 32)
        {
            return false;
        }

        foreach (var b in boot)
        {
            if (!(IsAlnum(b) || b is (byte)'_' or (byte)'-'))
            {
                return false;
            }
        }

        return true;
    }

    public static bool IsMetricName(ReadOnlySpan<byte> name)
    {
        if (name.Length is 0 or > MetricCatalogue.MaxNameLength || name[0] is < (byte)'a' or > (byte)'z')
        {
            return false;
        }

        foreach (var b in name)
        {
            if (!(b is >= (byte)'a' and <= (byte)'z' || b is >= (byte)'0' and <= (byte)'9' || b == (byte)'_'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A failure mode name: like a metric name, <c>^[a-z][a-z0-9_]{0,63}$</c> (it is a column value in
    /// CSV exports and a tag in InfluxDB, so nothing that needs quoting).</summary>
    public static bool IsFailureMode(string? mode) =>
        mode is { Length: > 0 and <= 64 } && mode.All(c => c is >= 'a' and <= 'z' or >= '0' and <= '9' or '_') && mode[0] is >= 'a' and <= 'z';

    private static bool IsId(ReadOnlySpan<char> id, bool allowDot)
    {
        if (id.Length is 0 or > 64 || !IsAlnum(id[0]))
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!(IsAlnum(c) || c is '_' or '-' || (allowDot && c == '.')))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsAlnum(int c) => c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9';
}
