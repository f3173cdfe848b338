namespace Telemetry.Ingest.Api;

/// <summary>One configured API key, <c>Api:Keys:N</c>.</summary>
public sealed class ApiKeyOptions
{
    /// <summary>Where the key was configured (<c>Api:Keys:N</c>), so a failure and the log can name it
    /// without showing the key.</summary>
    public required string Path { get; init; }

    /// <summary>The secret presented in <c>X-Api-Key</c>.</summary>
    public required string Key { get; init; }

    /// <summary>The scopes as configured (<c>read,operate</c>); null for a key given as a plain string, which
    /// has every scope, as keys had before there were scopes.</summary>
    public string? Scopes { get; init; }
}
