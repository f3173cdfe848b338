using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.Extensions.Options;
using Telemetry.Ingest.Api;

namespace Telemetry.Ingest.Hosting;

internal static partial class TelemetryHostingExtensions
{
    /// <summary>
    /// Who may call the HTTP API: API keys (<see cref="ApiKeyRing"/>) authenticate the <c>X-Api-Key</c> header,
    /// each scope is a policy that endpoints require, and the fallback policy requires a key on any endpoint
    /// that names none, so a new endpoint is closed until someone decides otherwise. Only <c>/health</c> opts out.
    /// </summary>
    public static WebApplicationBuilder AddTelemetryApi(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IConfigureOptions<ApiOptions>, ApiOptionsSetup>();
        builder.Services.AddSingleton<IValidateOptions<ApiOptions>, ApiOptionsValidator>();
        builder.Services.AddOptionsWithValidateOnStart<ApiOptions>();
        builder.Services.AddSingleton<ApiKeyRing>();
        builder.Services.AddSingleton<Metrics.ApiMetrics>();

        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        var authorization = builder.Services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder(ApiKeyAuthenticationHandler.SchemeName).RequireAuthenticatedUser().Build());
        foreach (var scope in ApiScope.All)
        {
            authorization.AddPolicy(scope, policy => policy.RequireClaim(ApiScope.ClaimType, scope));
        }

        builder.Services.AddSingleton<IAuthorizationMiddlewareResultHandler, ApiAuthorizationResultHandler>();
        return builder;
    }
}
