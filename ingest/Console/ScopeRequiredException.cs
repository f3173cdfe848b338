namespace Telemetry.Ingest.Console;

/// <summary>An action the signed-in key may not take: the console's 403.</summary>
internal sealed class ScopeRequiredException(string scope)
    : InvalidOperationException($"This key lacks the '{scope}' scope (an admin key has every scope).")
{
    public string Scope { get; } = scope;
}
