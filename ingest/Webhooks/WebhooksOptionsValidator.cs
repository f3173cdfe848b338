using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Telemetry.Ingest.Webhooks;

/// <summary>Stops start-up on a webhook that could never be delivered or verified, with the key that is wrong.</summary>
internal sealed partial class WebhooksOptionsValidator : IValidateOptions<WebhooksOptions>
{
    public ValidateOptionsResult Validate(string? name, WebhooksOptions options)
    {
        var errors = new List<string>();
        var identities = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < options.Webhooks.Count; i++)
        {
            var hook = options.Webhooks[i];
            var key = $"Alerts:Webhooks:{i}";
            if (!Uri.TryCreate(hook.Url, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
            {
                errors.Add($"{key}:Url must be an absolute http or https URL (was '{hook.Url}').");
            }

            if (hook.Name is not null && !NamePattern().IsMatch(hook.Name))
            {
                errors.Add($"{key}:Name must be 1-64 of a-z 0-9 . _ - starting with a letter or digit (was '{hook.Name}').");
            }
            else if (!identities.TryAdd(hook.Identity(), i))
            {
                errors.Add(hook.Name is null
                    ? $"{key} has the same Url as Alerts:Webhooks:{identities[hook.Identity()]}: give each a distinct Name."
                    : $"{key}:Name '{hook.Name}' is already the name of Alerts:Webhooks:{identities[hook.Identity()]}.");
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

    // No ':' so that a name never equals a derived 'url:…' identity (or a migrated 'index:N' one).
    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$")]
    private static partial Regex NamePattern();
}
