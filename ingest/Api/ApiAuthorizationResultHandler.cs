using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Authorization.Policy;

namespace Telemetry.Ingest.Api;

/// <summary>
/// Turns a refused authorization into a problem document: a caller with a valid key that lacks the scope gets
/// 403 naming the scope it needs (the default answers with an empty body). Everything else, including the 401
/// challenge, goes to ASP.NET Core's default handler.
/// </summary>
internal sealed class ApiAuthorizationResultHandler : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (!authorizeResult.Forbidden)
        {
            return _default.HandleAsync(next, context, policy, authorizeResult);
        }

        var scope = (authorizeResult.AuthorizationFailure?.FailedRequirements ?? policy.Requirements)
            .OfType<ClaimsAuthorizationRequirement>()
            .Where(r => r.ClaimType == ApiScope.ClaimType)
            .SelectMany(r => r.AllowedValues ?? [])
            .FirstOrDefault() ?? ApiScope.Admin;
        return Results.Problem(
            statusCode: StatusCodes.Status403Forbidden,
            title: "Scope required",
            detail: $"This key lacks the '{scope}' scope this endpoint needs (an admin key has every scope).",
            extensions: new Dictionary<string, object?> { ["scope"] = scope }).ExecuteAsync(context);
    }
}
