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

var app = TelemetryApp.Build(args);
await app.RunAsync();
return 0;
