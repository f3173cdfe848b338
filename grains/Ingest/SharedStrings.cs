namespace Telemetry.Grains.Ingest;

/// <summary>
/// One copy of the strings many devices send alike (kind, model, batch, firmware). Each birth is decoded into new
/// strings, so a fleet of one model would hold a copy of each in every resident twin (about 120 bytes a device).
/// A fixed table, so a client sending a new value each time cannot grow it: a value that collides replaces the one
/// held, and races between threads only cost a copy.
/// </summary>
public static class SharedStrings
{
    private static readonly string?[] Slots = new string?[4096];

    /// <summary>The copy held for <paramref name="value"/>'s content, or <paramref name="value"/>, now held.</summary>
    public static string Get(string value)
    {
        ref var slot = ref Slots[(int)((uint)string.GetHashCode(value, StringComparison.Ordinal) % (uint)Slots.Length)];
        var held = Volatile.Read(ref slot);
        if (held is not null && string.Equals(held, value, StringComparison.Ordinal))
        {
            return held;
        }

        Volatile.Write(ref slot, value);
        return value;
    }
}
