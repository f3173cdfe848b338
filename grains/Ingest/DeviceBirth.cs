namespace Telemetry.Grains.Ingest;

/// <summary>A validated birth message: what the device is.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.birth")]
public sealed record DeviceBirth
{
    [Id(0)] public required string Kind { get; init; }

    [Id(1)] public required string Model { get; init; }

    [Id(2)] public required string Batch { get; init; }

    [Id(3)] public required string Firmware { get; init; }

    [Id(4)] public DateOnly? Manufactured { get; init; }

    [Id(5)] public double? WearerKg { get; init; }

    /// <summary>Optional band field (a v1 addition): the battery's rated capacity, the reference for health.</summary>
    [Id(6)] public double? RatedCapacityMah { get; init; }

    /// <summary>Optional (a v1 addition): serials of the replaceable parts fitted now. A changed serial means the
    /// part was replaced.</summary>
    [Id(7)] public InstalledParts? Parts { get; init; }

    /// <summary>Optional (a v1 addition): the wearer's language for alert messages, <c>en</c> or <c>zh-CN</c> in that
    /// form whatever the case sent (<see cref="Alerts.AlertLocales"/>). Null when the birth names none: the device's
    /// alerts then speak <c>Alerts:DefaultLocale</c>.</summary>
    [Id(9)] public string? Locale { get; init; }

    /// <summary>
    /// Set by the service when <c>Quality:KnownModels</c> or <c>Quality:KnownBatches</c> is configured and the
    /// model or batch is not in it: the twin keeps the birth, but the device counts in no defect rate and its
    /// readings are stored without model and batch tags. False (registered) for every birth when no registry is set.
    /// </summary>
    [Id(8)]
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public bool Unregistered { get; init; }

    /// <summary>
    /// What a birth makes of stored readings, as a number every process computes alike: the kind (the measurement) and,
    /// when registered, the model and batch (the tags). 0 for no birth. The pipeline sends the stamp of the birth it
    /// tagged a batch's readings with (<see cref="TelemetryBatch.TaggedWith"/>), and the twin answers with its profile
    /// when its own birth stamps otherwise: in a cluster another instance may have applied a birth this one has not seen.
    /// </summary>
    public static int TagStamp(DeviceBirth? birth)
    {
        if (birth is null)
        {
            return 0;
        }

        // FNV-1a: string.GetHashCode differs from process to process.
        var hash = 2166136261u;
        foreach (var part in (ReadOnlySpan<string>)[birth.Kind, birth.Unregistered ? string.Empty : birth.Model, birth.Unregistered ? string.Empty : birth.Batch])
        {
            foreach (var c in part)
            {
                hash = (hash ^ c) * 16777619u;
            }

            hash = (hash ^ 0xFFFF) * 16777619u;
        }

        return hash == 0 ? 1 : (int)hash;
    }

    /// <summary>This birth with its strings replaced by the copies many twins share (<see cref="SharedStrings"/>).</summary>
    public DeviceBirth WithSharedStrings()
    {
        var (kind, model, batch, firmware) = (SharedStrings.Get(Kind), SharedStrings.Get(Model), SharedStrings.Get(Batch), SharedStrings.Get(Firmware));
        return ReferenceEquals(kind, Kind) && ReferenceEquals(model, Model) && ReferenceEquals(batch, Batch) && ReferenceEquals(firmware, Firmware)
            ? this
            : this with { Kind = kind, Model = model, Batch = batch, Firmware = firmware };
    }
}

/// <summary>Serial numbers (or any stable ids) of the parts a device has fitted; null when not reported.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.installed-parts")]
public sealed record InstalledParts
{
    public static readonly string[] Names = ["shoe", "insole", "battery", "band"];

    [Id(0)] public string? Shoe { get; init; }

    [Id(1)] public string? Insole { get; init; }

    [Id(2)] public string? Battery { get; init; }

    [Id(3)] public string? Band { get; init; }

    public string? this[string part] => part switch
    {
        "shoe" => Shoe,
        "insole" => Insole,
        "battery" => Battery,
        "band" => Band,
        _ => null,
    };
}
