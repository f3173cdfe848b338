using System.Diagnostics.Metrics;
using Telemetry.Grains.Alerts;

namespace Telemetry.Grains.Devices;

/// <summary>
/// Values the device twins did not apply although their readings were valid one by one: a charge count further ahead of
/// the twin's counter than time allows (<see cref="WearAssessor.ChargeCountPlausible"/>). Counted on this instance, once
/// the twin's round is stored.
/// </summary>
public sealed class TwinCounters
{
    private readonly Counter<long> _ignored;
    private long _chargeCounts;

    public TwinCounters(IMeterFactory meters)
    {
        var meter = meters.Create(AlertMetrics.MeterName);
        _ignored = meter.CreateCounter<long>("telemetry.twin.values_ignored", description:
            "Values of accepted readings a device twin did not apply, by metric and reason (a charge count ahead of the twin's by more than time allows)");
    }

    /// <summary>Charge counts not applied since the process started.</summary>
    public long ChargeCountsIgnored => Interlocked.Read(ref _chargeCounts);

    public void CountChargeCountsIgnored(int count)
    {
        if (count > 0)
        {
            Interlocked.Add(ref _chargeCounts, count);
            _ignored.Add(count, new KeyValuePair<string, object?>("metric", "charge_cycles"), new KeyValuePair<string, object?>("reason", "implausible_jump"));
        }
    }
}
