using Microsoft.Extensions.Options;
using Telemetry.Grains.Devices;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Ingest.Hosting;

/// <summary>
/// Stops start-up when a model named by <see cref="OwnRulOptions"/> cannot be served, rather than at a twin's first
/// reading: a file that does not load as a model for its kind, or one that reads a metric only the other kind sends
/// (a band model given as the shoes' never gets a row). A column outside the catalogue is allowed (firmware may send
/// its own metrics) and warned of in the log.
/// </summary>
public sealed class OwnRulOptionsValidator : IValidateOptions<OwnRulOptions>
{
    public ValidateOptionsResult Validate(string? name, OwnRulOptions options)
    {
        OwnRulModels models;
        try
        {
            models = options.Load();
        }
        catch (InvalidOperationException e)
        {
            return ValidateOptionsResult.Fail(e.Message);
        }

        var errors = new List<string>();
        foreach (var (own, setting) in new[] { (models.Shoe, "Shoe"), (models.Band, "Band") })
        {
            foreach (var column in own?.Columns.Where(c => OtherKindOnly(own.Kind, c)) ?? [])
            {
                errors.Add($"{OwnRulOptions.SectionName}:{setting}: the model reads '{column}', which only a {(own!.Kind == "shoe" ? "band" : "shoe")} sends: {own.Kind}s would never get a row.");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Whether <paramref name="column"/> is a metric, or a derived column, of the other kind only.</summary>
    public static bool OtherKindOnly(string kind, string column) => kind == "shoe"
        ? MetricCatalogue.IsBandOnly(column) || column == "rated_mah"
        : MetricCatalogue.IsShoeOnly(column) || column is "pace_s_per_km" or "wearer_kg";
}
