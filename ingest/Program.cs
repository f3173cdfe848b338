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

try
{
    var app = TelemetryApp.Build(args);
    await app.RunAsync();
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
