using System.Diagnostics.Metrics;

namespace Telemetry.Ingest.Metrics;

/// <summary>Quality status changes published on <c>quality/{model}/{batch}</c>, on the <c>Telemetry.Ingest</c> meter.</summary>
internal sealed class QualityMetrics
{
    private readonly Counter<long> _changes;

    public QualityMetrics(IMeterFactory meters)
    {
        _changes = meters.Create(Pipeline.IngestCounters.MeterName).CreateCounter<long>("telemetry.quality.status_changes",
            description: "Batch quality status changes published, by the batch's new (worst) status: normal, watch or elevated");
    }

    /// <summary>A batch's changed rows were published and stored; <paramref name="status"/> is its worst status now.</summary>
    public void StatusChanged(string status) => _changes.Add(1, new KeyValuePair<string, object?>("status", status));
}
