namespace Telemetry.Ingest.Hosting;

/// <summary>Graceful shutdown (SIGTERM, Ctrl+C). Section <c>Shutdown</c>.</summary>
public sealed class ShutdownOptions
{
    public const string SectionName = "Shutdown";

    /// <summary>
    /// How long the service may take to stop: stop taking messages, finish the round in flight
    /// (<c>Pipeline:DrainTimeout</c>), flush the outbox, stop the silo. Whatever is not done by then stays
    /// unacknowledged and is redelivered to the next run. Keep it below the orchestrator's kill grace period
    /// (Kubernetes: 30 s). Default 20 s.
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(20);
}
