namespace Telemetry.Ingest.Api;

/// <summary>
/// HTTP API settings. Section <c>Api</c>. Read by <see cref="ApiOptionsSetup"/> rather than the configuration
/// binder, because a key may be given in two shapes (a plain string, or an object with its scopes).
/// </summary>
public sealed class ApiOptions
{
    public const string SectionName = "Api";

    /// <summary>
    /// Keys accepted in <c>X-Api-Key</c>: <c>Api:Keys:N:Key</c> with <c>Api:Keys:N:Scopes</c> (such as
    /// <c>read,operate</c>), or <c>Api:Keys:N=KEY</c>, a plain string with every scope. Default: none.
    /// </summary>
    public List<ApiKeyOptions> Keys { get; } = [];

    /// <summary>
    /// A file of <c>KEY scope,scope</c> lines (scopes required; <c>#</c> starts a comment), for secret mounts;
    /// reread when it changes. Default: empty. With neither this nor
    /// <see cref="Keys"/>, the service makes one admin key on first start and keeps it in
    /// <c>{Storage:DataDirectory}/api-key</c>.
    /// </summary>
    public string KeyFile { get; set; } = string.Empty;
}
