using Microsoft.Extensions.Options;

namespace Telemetry.Grains.Ingest;

/// <summary>Stops start-up on a dedupe setting that would forget boots devices may still resend, or grow twins without bound.</summary>
public sealed class DedupeOptionsValidator : IValidateOptions<DedupeOptions>
{
    public ValidateOptionsResult Validate(string? name, DedupeOptions options)
    {
        var errors = new List<string>();
        if (options.BootMemory < TimeSpan.FromMinutes(1) || options.BootMemory > TimeSpan.FromDays(3650))
        {
            errors.Add($"Uplink:BootMemory must be between 1 minute and 3650 days (was {options.BootMemory}).");
        }

        if (options.MaxBoots is < 1 or > 100_000)
        {
            errors.Add($"Uplink:MaxBoots must be between 1 and 100000 (was {options.MaxBoots}).");
        }

        if (options.MaxGapRanges is < 1 or > 1_000_000)
        {
            errors.Add($"Uplink:MaxGapRanges must be between 1 and 1000000 (was {options.MaxGapRanges}).");
        }

        if (options.MissingInAck is < 0 or > 256)
        {
            errors.Add($"Uplink:MissingInAck must be between 0 and 256 (was {options.MissingInAck}).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
