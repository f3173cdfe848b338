using Telemetry.Models.Simulation;

namespace Telemetry.Models.Faults;

/// <summary>What the detector achieved on a generated fleet with known fault onsets.</summary>
public sealed record FaultEvaluationResult(
    int Devices,
    int SuddenFaults,
    int DetectedWithin5,
    int HealthyDevices,
    int HealthyFalseAlerts,
    int FadeFaults,
    int FadeDetected,
    double MedianFadeDelayCycles,
    int FaultsInBaseline)
{
    public double DetectionRate => SuddenFaults == 0 ? 1 : (double)DetectedWithin5 / SuddenFaults;

    public double FalseAlertRate => HealthyDevices == 0 ? 0 : (double)HealthyFalseAlerts / HealthyDevices;
}

/// <summary>
/// Runs a generated fleet through the detector and scores it against the ground truth: a sudden fault
/// (delamination, water ingress) counts as detected if its alarm comes within 5 readings of the relevant
/// signal after onset; a healthy device counts as a false alert if it ever alarms.
/// </summary>
public static class FaultEvaluation
{
    /// <param name="fleet">Generated devices, each with its planted faults (the ground truth).</param>
    /// <param name="duration">Simulated time per device.</param>
    /// <param name="start">When the simulation starts.</param>
    /// <param name="progress">Told after every tenth of the fleet: simulating months of readings per device takes minutes for thousands.</param>
    public static FaultEvaluationResult Run(IReadOnlyList<SimulatedDevice> fleet, TimeSpan duration, DateTimeOffset start, IProgress<string>? progress = null)
    {
        var done = 0;
        var reportEvery = Math.Max(1, fleet.Count / 10);
        int sudden = 0, within5 = 0, healthy = 0, falseAlerts = 0, fade = 0, fadeDetected = 0, inBaseline = 0;
        var fadeDelays = new List<double>();
        var readings = new List<SimulatedReading>();
        foreach (var device in fleet)
        {
            if (done > 0 && done % reportEvery == 0)
            {
                progress?.Report($"{done}/{fleet.Count} devices simulated and scored");
            }

            done++;
            device.Start(start);
            readings.Clear();
            device.Advance(start + duration, readings);
            var state = new DeviceFaultState();
            var signalReadingsAfterOnset = 0;
            var signalReadings = 0;
            int? alarmAfter = null;
            double? onsetCycles = null;
            double? alarmCycles = null;
            var reference = device.Birth.RatedCapacityMah;
            foreach (var reading in readings)
            {
                double? Get(string name)
                {
                    foreach (var metric in reading.Metrics)
                    {
                        if (metric.Key == name)
                        {
                            return metric.Value;
                        }
                    }

                    return null;
                }

                var at = DateTimeOffset.FromUnixTimeMilliseconds(reading.TimestampMs);
                var afterOnset = device.FaultOnset is { } onset && at >= onset;
                FaultFinding? finding;
                bool isSignal;
                if (device.Birth.Kind == DeviceKind.Shoe)
                {
                    finding = state.ObserveShoe(Get("impact_g"), Get("contact_ms"));
                    isSignal = true;
                }
                else
                {
                    var cycles = Get("charge_cycles");
                    finding = state.ObserveBand(Get("humidity_pct"), cycles, Get("capacity_mah"), reference);
                    isSignal = device.Fault?.Mode == FaultMode.EarlyBatteryFade ? cycles is not null : Get("humidity_pct") is not null;
                    if (cycles is { } c && afterOnset)
                    {
                        onsetCycles ??= c;
                        if (finding is not null)
                        {
                            alarmCycles ??= c;
                        }
                    }
                }

                if (isSignal)
                {
                    signalReadings++;
                    if (afterOnset)
                    {
                        signalReadingsAfterOnset++;
                        if (signalReadings - signalReadingsAfterOnset <= FaultDetector.BaselineReadings && signalReadingsAfterOnset == 1
                            && device.Fault?.Mode is FaultMode.Delamination or FaultMode.WaterIngress)
                        {
                            inBaseline++;
                        }
                    }
                }

                if (finding is not null && alarmAfter is null)
                {

                    alarmAfter = afterOnset ? signalReadingsAfterOnset : 0;
                }
            }

            switch (device.Fault?.Mode)
            {
                case null or FaultMode.PrematureCollapse:
                    // Collapse is wear, for the remaining-life models; to this detector the shoe is healthy.
                    healthy++;
                    if (alarmAfter is not null)
                    {
                        falseAlerts++;
                    }

                    break;
                case FaultMode.Delamination or FaultMode.WaterIngress when device.FaultOnset < start + duration:
                    sudden++;

                    if (alarmAfter is >= 1 and <= 5)
                    {
                        within5++;
                    }

                    break;
                case FaultMode.EarlyBatteryFade when device.FaultOnset < start + duration:
                    fade++;
                    if (alarmCycles is { } a && onsetCycles is { } o)
                    {
                        fadeDetected++;
                        fadeDelays.Add(a - o);
                    }

                    break;
                default:
                    break;
            }
        }

        fadeDelays.Sort();
        return new FaultEvaluationResult(fleet.Count, sudden, within5, healthy, falseAlerts, fade, fadeDetected,
            fadeDelays.Count == 0 ? double.NaN : fadeDelays[fadeDelays.Count / 2], inBaseline);
    }
}
