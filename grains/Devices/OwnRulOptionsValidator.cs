using Microsoft.Extensions.Options;

namespace Telemetry.Grains.Devices;

/// <summary>Stops start-up when a model named by <see cref="OwnRulOptions"/> cannot be served, rather than at a twin's
/// first reading.</summary>
public sealed class OwnRulOptionsValidator : IValidateOptions<OwnRulOptions>
{
    public ValidateOptionsResult Validate(string? name, OwnRulOptions options)
    {
        try
        {
            options.Load();
            return ValidateOptionsResult.Success;
        }
        catch (InvalidOperationException e)
        {
            return ValidateOptionsResult.Fail(e.Message);
        }
    }
}
