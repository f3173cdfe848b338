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
    /// Maps the console's pages, its circuit hub and its static files. They are open to anonymous requests: the page
    /// itself asks for a key, and nothing it shows or does is reached without one (the fallback policy would
    /// otherwise refuse the page before it could ask). The API's routes stay the API's: no page claims
    /// <c>/api</c>, <c>/metrics</c> or <c>/health</c>.
    /// </summary>
    public static WebApplication MapTelemetryConsole(this WebApplication app)
    {
        app.UseAntiforgery();
        app.MapStaticAssets().AllowAnonymous();
        app.MapRazorComponents<ConsoleApp>().AddInteractiveServerRenderMode().AllowAnonymous();
        return app;
    }
}
