using Telemetry.Ingest.Api;
using Telemetry.Ingest.Hosting;

namespace Telemetry.Ingest;

/// <summary>Builds the service. <c>Program</c> runs it; the end-to-end tests build it in process.</summary>
internal static class TelemetryApp
{
    /// <param name="args">Command-line arguments (configuration overrides).</param>
    /// <param name="replaceServices">Lets tests replace services, such as the <see cref="TimeProvider"/>.</param>
    public static WebApplication Build(string[] args, Action<IServiceCollection>? replaceServices = null)
    {
        // Named, so the tests that build the service in process find its static web assets (the console's) as the
        // service does, rather than looking for the test host's.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ApplicationName = typeof(TelemetryApp).Assembly.GetName().Name });
        builder.Configuration.AddCommandLine(args, TelemetryHostingExtensions.SwitchMappings);
        builder.AddTelemetryOptions()
            .AddTelemetryBroker()
            .AddTelemetrySilo()
            .AddTelemetryStorage()
            .AddTelemetryIngest()
            .AddTelemetryApi()
            .AddTelemetryMetrics()
            .AddTelemetryConsole()
            .AddTelemetrySimulation();

        replaceServices?.Invoke(builder.Services);
        var app = builder.Build();

        // Made now rather than on the first request, so a generated key is on disk before anyone needs it and
        // a bad Api section stops the service here.
        _ = app.Services.GetRequiredService<ApiKeyRing>();
        app.MapTelemetryConsole();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapTelemetryApi();
        app.MapTelemetryMetrics();
        return app;
    }
}
