using Telemetry.Models.Rul;

namespace Telemetry.Grains.Devices;

/// <summary>
/// A brand's own remaining-life models, one per kind at most, learned by <c>train-rul</c> from its returns
/// (<c>Models:Rul:Shoe</c>, <c>Models:Rul:Band</c>; none by default). Where one is given, the remaining km or charge
/// cycles of that kind's twins, their interval and the figures in their alerts come from it once a twin has a week of
/// rows kept from new; until then, and for the kind without one, from the wear model (which keeps the alert levels).
/// </summary>
public sealed class OwnRulModels(OwnRulModel? shoe = null, OwnRulModel? band = null)
{
    public static OwnRulModels None { get; } = new();

    public OwnRulModel? Shoe => shoe;

    public OwnRulModel? Band => band;

    /// <summary>The model for twins of <paramref name="kind"/>, if there is one.</summary>
    public OwnRulModel? For(string? kind) => kind switch
    {
        "shoe" => shoe,
        "band" => band,
        _ => null,
    };
}
