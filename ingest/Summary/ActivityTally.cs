using System.Collections.Concurrent;

namespace Telemetry.Ingest.Summary;

/// <summary>
/// What the sinks of this instance passed on, for the log summary: alerts raised, and which batches are elevated now.
/// Counted where an event has reached every destination, so a twin's retry after a failure is not counted twice (a
/// repeat after a lost confirmation still is: delivery is at least once).
/// </summary>
internal sealed class ActivityTally
{
    private readonly ConcurrentDictionary<(string Model, string Batch), bool> _elevated = new();
    private long _alertsRaised;

    public long AlertsRaised => Interlocked.Read(ref _alertsRaised);

    /// <summary>Batches whose last published status was <c>elevated</c>.</summary>
    public int BatchesElevated => _elevated.Count(b => b.Value);

    public void AlertRaised() => Interlocked.Increment(ref _alertsRaised);

    public void BatchStatus(string model, string batch, string status) => _elevated[(model, batch)] = status == "elevated";
}
