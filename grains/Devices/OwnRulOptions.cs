namespace Telemetry.Grains.Devices;

/// <summary>
/// A brand's own remaining-life models (<see cref="OwnRulModels"/>): the path of a model file written by
/// <c>train-rul</c> for each kind, trained on weekly rows like those <c>simulate-runs</c> writes (time <c>km</c> for
/// shoes, <c>cycles</c> for bands). Neither is set by default: the wear model's remaining life is served.
/// </summary>
public sealed class OwnRulOptions
{
    public const string SectionName = "Models:Rul";

    /// <summary>The model for shoes (remaining km); default none.</summary>
    public string? Shoe { get; set; }

    /// <summary>The model for bands (remaining charge cycles); default none.</summary>
    public string? Band { get; set; }

    private readonly Lock _loading = new();
    private (string? Shoe, string? Band, OwnRulModels Models)? _loaded;

    /// <summary>
    /// The models the options name, loaded; a file that cannot be served throws, naming it and the setting. Loaded once
    /// for these paths: the start-up check and the service then serve the very models checked, rather than reading the
    /// files twice (a file changed in between would pass the check and fail at a twin's reading).
    /// </summary>
    public OwnRulModels Load()
    {
        lock (_loading)
        {
            if (_loaded is { } done && done.Shoe == Shoe && done.Band == Band)
            {
                return done.Models;
            }

            var models = new OwnRulModels(LoadOne(Shoe, "shoe"), LoadOne(Band, "band"));
            _loaded = (Shoe, Band, models);
            return models;
        }
    }

    private static Telemetry.Models.Rul.OwnRulModel? LoadOne(string? path, string kind)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            return null;
        }

        try
        {
            return Telemetry.Models.Rul.OwnRulModel.Load(path, kind);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidOperationException($"{SectionName}:{(kind == "shoe" ? "Shoe" : "Band")}: {e.Message}", e);
        }
    }
}
