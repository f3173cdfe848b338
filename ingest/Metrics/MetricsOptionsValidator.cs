using Microsoft.Extensions.Options;

namespace Telemetry.Ingest.Metrics;

internal sealed class MetricsOptionsValidator : IValidateOptions<MetricsOptions>
{
    public ValidateOptionsResult Validate(string? name, MetricsOptions options) =>
        options.OpenAlertsInterval >= TimeSpan.FromSeconds(1) && options.OpenAlertsInterval <= TimeSpan.FromMinutes(10)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"Metrics:OpenAlertsInterval must be between 1 s and 10 minutes (was {options.OpenAlertsInterval}).");
}
