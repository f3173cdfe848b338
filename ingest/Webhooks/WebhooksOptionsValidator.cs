using Microsoft.Extensions.Options;

namespace Telemetry.Ingest.Webhooks;

/// <summary>Stops start-up on a webhook that could never be delivered or verified, with the key that is wrong.</summary>
internal sealed class WebhooksOptionsValidator : IValidateOptions<WebhooksOptions>
{
    public ValidateOptionsResult Validate(string? name, WebhooksOptions options)
    {
        var errors = new List<string>();
        for (var i = 0; i < options.Webhooks.Count; i++)
        {
            var hook = options.Webhooks[i];
            var key = $"Alerts:Webhooks:{i}";
            if (!Uri.TryCreate(hook.Url, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
            {
                errors.Add($"{key}:Url must be an absolute http or https URL (was '{hook.Url}').");
            }

            if (string.IsNullOrWhiteSpace(hook.Secret) || hook.Secret.Length < 16)
            {
                errors.Add($"{key}:Secret must be set, at least 16 characters: receivers verify every request with it.");
            }

            if (hook.Codes?.Any(string.IsNullOrWhiteSpace) == true)
            {
                errors.Add($"{key}:Codes must not contain empty entries.");
            }

            if (hook.GiveUpAfter <= TimeSpan.Zero)
            {
                errors.Add($"{key}:GiveUpAfter must be positive (was {hook.GiveUpAfter}).");
            }

            if (hook.Timeout <= TimeSpan.Zero || hook.Timeout > TimeSpan.FromMinutes(5))
            {
                errors.Add($"{key}:Timeout must be between 0 and 5 minutes (was {hook.Timeout}).");
            }

            if (hook.RetryFirst <= TimeSpan.Zero || hook.RetryCap < hook.RetryFirst)
            {
                errors.Add($"{key}:RetryFirst must be positive and RetryCap at least RetryFirst (were {hook.RetryFirst}, {hook.RetryCap}).");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
