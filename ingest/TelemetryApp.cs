using Telemetry.Ingest.Api;
using Telemetry.Ingest.Hosting;

namespace Telemetry.Ingest;

/// <summary>Builds the service. <c>Program</c> runs it; the end-to-end tests build it in process.</summary>
internal static class TelemetryApp
{
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Configuration.AddCommandLine(args, TelemetryHostingExtensions.SwitchMappings);
        builder.AddTelemetryOptions()
            .AddTelemetryBroker()
            .AddTelemetrySilo()
            .AddTelemetryStorage()
            .AddTelemetryIngest()
            .AddTelemetrySimulation();

        var app = builder.Build();
        app.MapTelemetryApi();
        return app;
    }
}
