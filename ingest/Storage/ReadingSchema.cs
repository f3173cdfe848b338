namespace Telemetry.Ingest.Storage;

/// <summary>
/// The names the store writes next to a device's metrics (docs/storage.md): tags <c>device</c>, <c>model</c> and
/// <c>batch</c>, fields <c>boot</c> (string) and <c>seq</c> (integer), and <c>time</c>, which InfluxQL means as
/// the timestamp. A metric with one of these names would collide with them (InfluxDB refuses a field whose type
/// changes, and a field named like a tag makes queries ambiguous), so they are not metric names.
/// </summary>
internal static class ReadingSchema
{
    public const string DeviceTag = "device";
    public const string ModelTag = "model";
    public const string BatchTag = "batch";
    public const string BootField = "boot";
    public const string SeqField = "seq";
    public const string Time = "time";

    /// <summary>Every reserved name, for documentation and tests.</summary>
    public static readonly string[] Reserved = [DeviceTag, ModelTag, BatchTag, BootField, SeqField, Time];

    /// <summary>Whether the UTF-8 <paramref name="name"/> is one of <see cref="Reserved"/>.</summary>
    public static bool IsReserved(ReadOnlySpan<byte> name) => name.Length switch
    {
        3 => name.SequenceEqual("seq"u8),
        4 => name.SequenceEqual("boot"u8) || name.SequenceEqual("time"u8),
        5 => name.SequenceEqual("model"u8) || name.SequenceEqual("batch"u8),
        6 => name.SequenceEqual("device"u8),
        _ => false,
    };
}
