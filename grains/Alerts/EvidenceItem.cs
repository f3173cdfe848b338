namespace Telemetry.Grains.Alerts;

/// <summary>One number (or, for model versions and drivers, one text) behind an alert.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.evidence")]
public readonly record struct EvidenceItem(
    [property: Id(0)] string Key,
    [property: Id(1)] double? Number,
    [property: Id(2)] string? Text)
{
    public static EvidenceItem Of(string key, double number) => new(key, number, null);

    public static EvidenceItem Of(string key, string text) => new(key, null, text);
}
