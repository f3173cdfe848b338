using Microsoft.Extensions.Options;

namespace Telemetry.Ingest.Summary;

internal sealed class LogSummaryOptionsValidator : IValidateOptions<LogSummaryOptions>
{
    public ValidateOptionsResult Validate(string? name, LogSummaryOptions options) =>
        options.Interval == TimeSpan.Zero || (options.Interval >= TimeSpan.FromSeconds(1) && options.Interval <= TimeSpan.FromHours(1))
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"Logging:Summary:Interval must be 00:00:00 (off) or between 1 s and 1 hour (was {options.Interval}).");
}
