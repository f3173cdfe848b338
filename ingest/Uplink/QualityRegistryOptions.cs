namespace Telemetry.Ingest.Uplink;

/// <summary>
/// The product registry births are checked against. Section <c>Quality</c>. Both lists empty (default): every
/// well-formed model and batch is accepted, as the uplink contract allows. Once set, a birth naming a model or
/// batch outside them is still accepted into the twin, but counted (<c>births_unregistered</c>), kept out of
/// the defect rates and stored without model and batch tags, so a rogue device cannot move a real batch's
/// statistics or create series.
/// </summary>
public sealed class QualityRegistryOptions
{
    public const string SectionName = "Quality";

    /// <summary>Globs of known model ids (<c>*</c> any run of characters, <c>?</c> one), e.g. <c>aerorun-*</c>.
    /// Empty (default): any model.</summary>
    public List<string> KnownModels { get; set; } = [];

    /// <summary>Globs of known batch codes, e.g. <c>2025w*</c>; a glob with a <c>/</c> is matched against
    /// <c>{model}/{batch}</c>, e.g. <c>aerorun-3/2025w4?-*</c>. Empty (default): any batch.</summary>
    public List<string> KnownBatches { get; set; } = [];
}
