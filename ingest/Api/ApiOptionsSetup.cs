namespace Telemetry.Ingest.Api;

/// <summary>
/// Reads section <c>Api</c> by hand: the configuration binder cannot bind <c>Api:Keys:0=KEY</c> (a string)
/// and <c>Api:Keys:1:Key</c> with <c>Api:Keys:1:Scopes</c> (an object) into one list, and both must work.
/// </summary>
internal sealed class ApiOptionsSetup(IConfiguration configuration) : Microsoft.Extensions.Options.IConfigureOptions<ApiOptions>
{
    public void Configure(ApiOptions options) => Read(configuration.GetSection(ApiOptions.SectionName), options);

    public static void Read(IConfigurationSection section, ApiOptions options)
    {
        options.KeyFile = section[nameof(ApiOptions.KeyFile)] ?? string.Empty;
        foreach (var entry in section.GetSection(nameof(ApiOptions.Keys)).GetChildren())
        {
            if (!entry.GetChildren().Any())
            {
                // An empty plain key (Api__Keys__0= in a compose file) means "none", as it always has.
                if (!string.IsNullOrWhiteSpace(entry.Value))
                {
                    options.Keys.Add(new ApiKeyOptions { Path = entry.Path, Key = entry.Value.Trim() });
                }

                continue;
            }

            // Scopes as one string ("read,operate", what environment variables can carry) or as a JSON array.
            var scopes = entry.GetSection(nameof(ApiKeyOptions.Scopes));
            options.Keys.Add(new ApiKeyOptions
            {
                Path = entry.Path,
                Key = entry[nameof(ApiKeyOptions.Key)]?.Trim() ?? string.Empty,
                Scopes = scopes.Value ?? string.Join(',', scopes.GetChildren().Select(s => s.Value)),
            });
        }
    }
}
