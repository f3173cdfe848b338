using Telemetry.Ingest;
using Telemetry.Ingest.Cli;

// With a verb (export, credentials) it runs that; with none it runs the service, every argument going to its
// configuration as before (`--simulate 1000`, `--Broker:Port 1884`); `--help` lists both without starting anything.
return await IngestCommandLine.InvokeAsync(args, TelemetryApp.RunAsync, Console.Out, Console.Error);
