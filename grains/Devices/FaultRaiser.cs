using Telemetry.Grains.Alerts;
using Telemetry.Models.Faults;

namespace Telemetry.Grains.Devices;

/// <summary>
/// One round's sudden faults: the detector's findings as the readings arrive (<see cref="Found"/>), raised as alerts
/// once the round's readings are in (<see cref="Raise"/>), and the failures newly raised, which the quality view
/// counts once the round is stored (<see cref="TakeNewFailures"/>). Made by the first finding of a round and dropped
/// with it: an idle twin holds none.
/// </summary>
internal sealed class FaultRaiser
{
    private List<(FaultFinding Finding, long AtMs)>? _findings;

    private List<(string Mode, DateTimeOffset At)>? _newFailures;

    /// <summary>Feeds one reading to the twin's fault detector; a finding once a fault persists for long enough.</summary>
    public static FaultFinding? Detect(DeviceState state, in FaultSignals signals) => state.Birth?.Kind switch
    {
        "shoe" => state.Faults.ObserveShoe(signals.ImpactG, signals.ContactMs),
        "band" => state.Faults.ObserveBand(signals.HumidityPct, signals.ChargeCycles, signals.CapacityMah, state.BandUsage.ReferenceMah),
        _ => null,
    };

    /// <summary>A finding of the reading taken at <paramref name="atMs"/> (device time, Unix ms).</summary>
    public void Found(FaultFinding finding, long atMs) => (_findings ??= []).Add((finding, atMs));

    /// <summary>
    /// One open alert per fault code: a fault stays suspected until after-sales closes it (a repeat of the
    /// finding does not raise another, it brings the open alert's evidence up to date). The evidence names the
    /// detector and its numbers. Each finding is raised once: a second call raises nothing.
    /// </summary>
    public void Raise(DeviceState state, AlertStepper alerts, DateTimeOffset now, List<AlertEvent> events)
    {
        if (_findings is not { } findings)
        {
            return;
        }

        _findings = null;
        foreach (var (finding, atMs) in findings)
        {
            var code = AlertCodes.ForFault(finding.Mode);
            var evidence = EvidenceBuilder.Fault(finding);
            if (state.OpenAlerts.TryGetValue(code, out var existing))
            {
                // The condition again: the open alert's evidence is brought up to date; no new alert.
                state.OpenAlerts[code] = existing with { Evidence = evidence };
                continue;
            }

            // A suspected fault is an after-sales problem, not a reminder: DOMAIN.md's customers expect a first
            // response within 2 hours, so it is critical (and a swelling cell or a leaking seal is a safety matter).
            alerts.Raise(code, AlertSeverity.Critical, now, AlertTexts.Fault(code, alerts.Locale), evidence, events);
            // For the quality view the failure happened when the reading showed it, not when it was uploaded.
            (_newFailures ??= []).Add((finding.Mode, DateTimeOffset.FromUnixTimeMilliseconds(atMs)));
        }
    }

    /// <summary>The failure modes newly raised, with when the reading showed each; empty after the first call.</summary>
    public List<(string Mode, DateTimeOffset At)> TakeNewFailures()
    {
        var failures = _newFailures ?? [];
        _newFailures = null;
        return failures;
    }
}
