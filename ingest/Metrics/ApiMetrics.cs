using System.Diagnostics.Metrics;

namespace Telemetry.Ingest.Metrics;

/// <summary>API keys refused, by why, on the <c>Telemetry.Ingest</c> meter: the handler's own log lines are off by
/// default (one per request would let a client with bad keys flood the log), so this is where a guessing client shows.</summary>
internal sealed class ApiMetrics
{
    public const string BothHeaders = "both_headers";

    public const string SeveralKeys = "several_keys";

    public const string NotInForce = "not_in_force";

    private readonly Counter<long> _refused;

    public ApiMetrics(IMeterFactory meters)
    {
        _refused = meters.Create(Pipeline.IngestCounters.MeterName).CreateCounter<long>("telemetry.api.keys_refused",
            description: "Requests whose API key was refused, by reason: both_headers, several_keys (or an empty one), not_in_force");
    }

    public void Refused(string reason) => _refused.Add(1, new KeyValuePair<string, object?>("reason", reason));
}
