using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Telemetry.Ingest.Api;

/// <summary>
/// Authenticates the <c>X-Api-Key</c> header against the keys in force: the caller becomes a principal named
/// after where its key is configured (never the key), with one <c>scope</c> claim per scope it holds. Without
/// the header the request is anonymous; a wrong key fails. Either way a protected endpoint then answers 401
/// with a problem document.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyRing keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    public const string Header = "X-Api-Key";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue(Header, out var presented))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        // Two values (two headers, or one with a comma) are refused rather than tried one by one.
        if (presented.Count != 1 || keys.Find(presented[0]!) is not { } key)
        {
            return Task.FromResult(AuthenticateResult.Fail($"The {Header} header holds no key in force."));
        }

        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, key.Label), .. key.Scopes.Select(s => new Claim(ApiScope.ClaimType, s))],
            SchemeName, ClaimTypes.Name, ApiScope.ClaimType);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        // RFC 9110 wants a challenge with every 401; this names the header a client should send.
        Response.Headers.WWWAuthenticate = $"{SchemeName} header=\"{Header}\"";
        var detail = Request.Headers.ContainsKey(Header)
            ? $"The key in {Header} is not one in force (it may have been rotated)."
            : $"Send an API key in the {Header} header (keys are configured under Api:Keys or Api:KeyFile; the demo key is in {{data}}/api-key).";
        return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "API key required", detail: detail).ExecuteAsync(Context);
    }
}
