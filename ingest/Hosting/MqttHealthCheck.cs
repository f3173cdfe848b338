using Microsoft.Extensions.Diagnostics.HealthChecks;
using Telemetry.Ingest.Mqtt;

namespace Telemetry.Ingest.Hosting;

/// <summary>Healthy when both of the service's broker connections are up.</summary>
internal sealed class MqttHealthCheck(MqttIngestService ingest, MqttOutbox outbox) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(ingest.IsConnected && outbox.IsConnected
            ? HealthCheckResult.Healthy("connected to the broker")
            : HealthCheckResult.Unhealthy($"broker connections: ingest {(ingest.IsConnected ? "up" : "down")}, outbox {(outbox.IsConnected ? "up" : "down")}"));
}
