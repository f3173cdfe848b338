using Microsoft.Extensions.Options;

namespace Telemetry.Ingest.Api;

/// <summary>Stops start-up (and refuses a reload) with a message naming the key when <c>Api</c> is unusable:
/// a scope nobody defined would otherwise silently grant nothing, or, misspelt, less than intended.</summary>
internal sealed class ApiOptionsValidator : IValidateOptions<ApiOptions>
{
    public ValidateOptionsResult Validate(string? name, ApiOptions options)
    {
        var failures = new List<string>();
        var known = string.Join(", ", ApiScope.All);
        foreach (var key in options.Keys)
        {
            if (key.Key.Length == 0)
            {
                failures.Add($"{key.Path}:Key must not be empty.");
            }

            if (key.Scopes is { } scopes && ApiScope.Parse(scopes, out var unknown) is null)
            {
                failures.Add(unknown is null
                    ? $"{key.Path}:Scopes must name at least one scope ({known})."
                    : $"{key.Path}:Scopes has an unknown scope '{unknown}' (known: {known}).");
            }
        }

        if (options.KeyFile.Length > 0)
        {
            if (File.Exists(options.KeyFile))
            {
                ApiKeyFile.Read(options.KeyFile, $"Api:KeyFile '{options.KeyFile}'", failures);
            }
            else
            {
                failures.Add($"Api:KeyFile names a file that does not exist: '{options.KeyFile}'.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
