using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Telemetry.Ingest.Api;

/// <summary>
/// Authenticates the <c>X-Api-Key</c> header, or an <c>Authorization: Bearer</c> header for clients that can only
/// send that (Prometheus' <c>authorization</c> setting), against the keys in force: the caller becomes a principal
/// named after where its key is configured (never the key), with one <c>scope</c> claim per scope it holds. Without
/// either header the request is anonymous; a wrong key, or a key in both headers, fails. Either way a protected
/// endpoint then answers 401 with a problem document.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyRing keys, Metrics.ApiMetrics metrics)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    public const string Header = "X-Api-Key";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var bearer = BearerToken(Request.Headers.Authorization, out var badBearer);
        if (!Request.Headers.TryGetValue(Header, out var presented))
        {
            if (bearer is null && !badBearer)
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            presented = bearer;
        }
        else if (bearer is not null || badBearer)
        {
            // Two keys are refused rather than tried one by one, even when both are valid.
            metrics.Refused(Metrics.ApiMetrics.BothHeaders);
            return Task.FromResult(AuthenticateResult.Fail($"Send the key in {Header} or in Authorization, not both."));
        }

        // Two values (two headers, or one with a comma) are refused rather than tried one by one.
        var where = bearer is null && !badBearer ? Header : "Authorization";
        if (badBearer || presented.Count != 1 || keys.Find(presented[0]!) is not { } key)
        {
            var several = badBearer || presented.Count != 1 || string.IsNullOrEmpty(presented[0]) || presented[0]!.Contains(',', StringComparison.Ordinal);
            metrics.Refused(several ? Metrics.ApiMetrics.SeveralKeys : Metrics.ApiMetrics.NotInForce);
            return Task.FromResult(AuthenticateResult.Fail(several
                ? $"Send one key in {where}, not several (or an empty one)."
                : $"The key in {where} is not one in force (it may have been rotated)."));
        }

        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(Principal(key), SchemeName)));
    }

    /// <summary>The caller a key makes: named after where it is configured, one <c>scope</c> claim per scope. The
    /// console builds its callers here too, so the scope policies judge both alike.</summary>
    internal static ClaimsPrincipal Principal(ApiKey key) => new(new ClaimsIdentity(
        [new Claim(ClaimTypes.Name, key.Label), .. key.Scopes.Select(s => new Claim(ApiScope.ClaimType, s))],
        SchemeName, ClaimTypes.Name, ApiScope.ClaimType));

    /// <summary>
    /// The key of an <c>Authorization: Bearer KEY</c> header (RFC 6750: the scheme in any case, one space), or null when
    /// there is no Authorization header or it names another scheme (Basic, say), which this handler leaves alone.
    /// <paramref name="invalid"/> is set for a Bearer header that cannot be taken: empty, or more than one.
    /// </summary>
    internal static string? BearerToken(Microsoft.Extensions.Primitives.StringValues authorization, out bool invalid)
    {
        const string Scheme = "Bearer ";
        var bearers = authorization.Where(v => v is not null && v.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase)).ToList();
        invalid = bearers.Count > 1 || (bearers.Count == 1 && bearers[0]!.AsSpan(Scheme.Length).Trim().IsEmpty);
        return bearers.Count == 1 && !invalid ? bearers[0]![Scheme.Length..].Trim() : null;
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        // RFC 9110 wants a challenge with every 401; this names the header a client should send. The detail is why the
        // key was refused (two of them, a rotated one), as the authentication said: the same words, once computed.
        Response.Headers.WWWAuthenticate = $"{SchemeName} header=\"{Header}\"";
        var refused = (await HandleAuthenticateOnceSafeAsync()).Failure?.Message;
        var detail = refused ?? $"Send an API key in the {Header} header (keys are configured under Api:Keys or Api:KeyFile; the demo key is in {{data}}/api-key).";
        await Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "API key required", detail: detail).ExecuteAsync(Context);
    }
}
