using Telemetry.Ingest;

var app = TelemetryApp.Build(args);
await app.RunAsync();
