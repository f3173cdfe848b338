namespace Telemetry.Ingest.Metrics;

/// <summary><c>GET /metrics</c>, the Prometheus scrape endpoint. Section <c>Metrics</c>.</summary>
internal sealed class MetricsOptions
{
    public const string SectionName = "Metrics";

    /// <summary>Serve <c>/metrics</c>. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Serve <c>/metrics</c> without an API key. Default false: the scraper needs a key with the <c>read</c> scope, in
    /// <c>X-Api-Key</c> or as <c>Authorization: Bearer</c>. Turn it on only where the HTTP port is reachable from a
    /// private network alone: the metrics show the fleet's traffic and alert codes, though never a device id.
    /// </summary>
    public bool AllowAnonymous { get; set; }

    /// <summary>How often the <c>telemetry_alerts_open</c> gauge asks the alert index for its counts. Default 15 s
    /// (Prometheus' usual scrape interval), between 1 s and 10 min.</summary>
    public TimeSpan OpenAlertsInterval { get; set; } = TimeSpan.FromSeconds(15);
}
