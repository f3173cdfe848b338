using Telemetry.Ingest.Api;
using Telemetry.Ingest.Hosting;

namespace Telemetry.Ingest;

/// <summary>Builds and runs the service. The command line runs it; the end-to-end tests build it in process.</summary>
internal static class TelemetryApp
{
    /// <summary>Runs the service until it is stopped: 0 when stopped, 2 when its configuration is not valid.</summary>
    /// <param name="args">Command-line arguments (configuration overrides), exactly as given.</param>
    public static async Task<int> RunAsync(string[] args)
    {
        // Taken before the run: RunAsync disposes the host, and with it the lifetime.
        var stopping = CancellationToken.None;
        try
        {
            var app = Build(args);
            stopping = app.Lifetime.ApplicationStopping;
            await app.RunAsync();
            return 0;
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Stopped (SIGTERM, Ctrl+C) while starting, waiting for Orleans' Redis say: a stop like any other, not a crash.
            await System.Console.Error.WriteLineAsync("Stopped while starting.");
            return 0;
        }
        catch (Microsoft.Extensions.Options.OptionsValidationException e)
        {
            // Start-up validation: one line per failure, each naming its key, instead of a stack trace.
            await System.Console.Error.WriteLineAsync("The configuration is not valid; the service did not start:");
            foreach (var failure in e.Failures)
            {
                await System.Console.Error.WriteLineAsync($"  - {failure}");
            }

            return 2;
        }
    }

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
