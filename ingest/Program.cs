using Telemetry.Ingest;
using Telemetry.Ingest.Broker;

if (args is ["credentials", ..])
{
    return CredentialsCommand.Run(args[1..], Console.Out, Console.Error);
}

if (args is ["export", ..])
{
    return await Telemetry.Ingest.Api.ExportCommand.RunAsync(args[1..], Console.Out, Console.Error);
}

// Taken before the run: RunAsync disposes the host, and with it the lifetime.
var stopping = CancellationToken.None;
try
{
    var app = TelemetryApp.Build(args);
    stopping = app.Lifetime.ApplicationStopping;
    await app.RunAsync();
    return 0;
}
catch (OperationCanceledException) when (stopping.IsCancellationRequested)
{
    // Stopped (SIGTERM, Ctrl+C) while starting, waiting for Orleans' Redis say: a stop like any other, not a crash.
    Console.Error.WriteLine("Stopped while starting.");
    return 0;
}
catch (Microsoft.Extensions.Options.OptionsValidationException e)
{
    // Start-up validation: one line per failure, each naming its key, instead of a stack trace.
    Console.Error.WriteLine("The configuration is not valid; the service did not start:");
    foreach (var failure in e.Failures)
    {
        Console.Error.WriteLine($"  - {failure}");
    }

    return 2;
}
