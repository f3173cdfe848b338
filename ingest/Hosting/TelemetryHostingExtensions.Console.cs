using Radzen;
using Telemetry.Ingest.Console;

namespace Telemetry.Ingest.Hosting;

internal static partial class TelemetryHostingExtensions
{
    /// <summary>
    /// The operator console at <c>/</c> (docs/console.md): Blazor with interactive server rendering, so the pages
    /// call the same grains, feeds and counters as the HTTP API in process, and every action checks the key's
    /// scope through the API's own policies (<see cref="ConsoleSession"/>).
    /// </summary>
    public static WebApplicationBuilder AddTelemetryConsole(this WebApplicationBuilder builder)
    {
        // Static web assets (blazor.web.js, Radzen's theme) are found through the build's manifest also outside
        // Development, so `dotnet run` and the in-process tests serve them from the build output.
        builder.WebHost.UseStaticWebAssets();
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddRadzenComponents();
        builder.Services.AddScoped<ConsoleSession>();
        builder.Services.AddScoped<ConsoleActions>();
        builder.Services.AddHostedService<ConsoleLink>();
        return builder;
    }

    /// <summary>
    /// Serves the console's paths (<see cref="IsConsolePath"/>) from a branch of the pipeline with its own routing: its
    /// pages, circuit hub and static files are not endpoints of the service's routing, so they cannot shadow an API
    /// route, and the API's rule that every endpoint outside <c>/health</c> names a scope stays true. The branch is
    /// open to anonymous requests: the page itself asks for a key, and nothing it shows or does is reached without one.
    /// Everything else, <c>/api</c>, <c>/metrics</c>, <c>/health</c> and unknown paths, goes on to the API as before.
    /// Call before authentication, which would refuse the page before it could ask.
    /// </summary>
    public static WebApplication MapTelemetryConsole(this WebApplication app)
    {
        app.MapWhen(context => IsConsolePath(context.Request.Path), console =>
        {
            // The sign-in link carries the key in its query: no console response may hand its address on as a Referer.
            console.Use((context, next) =>
            {
                context.Response.Headers["Referrer-Policy"] = "no-referrer";
                return next(context);
            });
            console.UseRouting();
            console.UseAntiforgery();
            console.UseEndpoints(endpoints =>
            {
                endpoints.MapStaticAssets();
                endpoints.MapRazorComponents<ConsoleApp>().AddInteractiveServerRenderMode();
            });
        });
        return app;
    }

    /// <summary>The console's pages (<c>/</c>, <c>/devices/{id}</c>, <c>/quality</c>, <c>/pipeline</c>), its Blazor
    /// circuit and framework files, the component library's files and its own stylesheet and script.</summary>
    internal static bool IsConsolePath(PathString path) =>
        path == "/" || path == "/quality" || path == "/pipeline"
        || (path.StartsWithSegments("/devices", out var device) && device.Value is { Length: > 1 } id && id.IndexOf('/', 1) < 0)
        || path.StartsWithSegments("/_blazor") || path.StartsWithSegments("/_framework") || path.StartsWithSegments("/_content")
        || (path.Value is { } value && value.StartsWith("/console.", StringComparison.Ordinal) && value.IndexOf('/', 1) < 0);
}
