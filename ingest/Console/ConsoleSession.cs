using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Telemetry.Ingest.Api;

namespace Telemetry.Ingest.Console;

/// <summary>
/// The key one browser tab signed in with, for the life of its circuit. The key itself is kept, not what it
/// was worth at sign-in: every read and every action looks it up in the <see cref="ApiKeyRing"/> again and asks
/// the API's own scope policies, so a rotated or narrowed key loses the console at once, as it loses the API.
/// </summary>
internal sealed class ConsoleSession(ApiKeyRing keys, IAuthorizationService authorization)
{
    private const string ReservedActor = "system";
    private string? _key;

    /// <summary>Who the alert history names for this tab's actions (1 to 100 characters, as the API requires).</summary>
    public string Actor { get; private set; } = "console";

    public bool SignedIn => _key is not null && keys.Find(_key) is not null;

    /// <summary>Where the key is configured (never the key), as the API's logs name it.</summary>
    public string Label => _key is not null && keys.Find(_key) is { } key ? key.Label : string.Empty;

    /// <summary>Raised when the tab signs in or out, so the layout and pages render again.</summary>
    public event Action? Changed;

    /// <summary>Takes <paramref name="key"/> when a key in force matches it; false otherwise.</summary>
    public bool SignIn(string? key, string? actor)
    {
        if (string.IsNullOrWhiteSpace(key) || keys.Find(key.Trim()) is null)
        {
            return false;
        }

        _key = key.Trim();
        // "system" names the service's own actions in the alert history; a person must not pass for it.
        if (actor?.Trim() is { Length: > 0 and <= 100 } name && !name.Equals(ReservedActor, StringComparison.OrdinalIgnoreCase))
        {
            Actor = name;
        }

        Changed?.Invoke();
        return true;
    }

    public void SignOut()
    {
        _key = null;
        Changed?.Invoke();
    }

    /// <summary>The key as the browser needs it for the export downloads (they go through the API).</summary>
    public string? Key => _key;

    /// <summary>Whether the key in force now holds <paramref name="scope"/>, by the policy of that name the API uses.</summary>
    public async Task<bool> HasAsync(string scope)
    {
        if (_key is null || keys.Find(_key) is not { } key)
        {
            return false;
        }

        return (await authorization.AuthorizeAsync(ApiKeyAuthenticationHandler.Principal(key), scope)).Succeeded;
    }

    /// <summary>Throws <see cref="ScopeRequiredException"/> unless the key holds <paramref name="scope"/>.</summary>
    public async Task RequireAsync(string scope)
    {
        if (!await HasAsync(scope))
        {
            throw new ScopeRequiredException(scope);
        }
    }
}
