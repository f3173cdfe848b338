namespace Telemetry.Models.Simulation;

/// <summary>
/// A fitness band sampled every 15 minutes, with one charge-cycle summary a day that carries the fuel
/// gauge's learned capacity. Capacity fades linearly to 80% over a cell-specific cycle life drawn around
/// the CALCE CS2 figure (500–590 cycles); the gauge adds recovery noise that the service must smooth.
/// </summary>
public sealed class SimulatedBand : SimulatedDevice
{
    private static readonly TimeSpan SampleInterval = TimeSpan.FromMinutes(15);

    private readonly double _ratedMah;
    private readonly double _cyclesTo80;
    private double _cycles;
    private double _chargePct = 100;
    private DateTimeOffset _nextSample;
    private DateTimeOffset _nextCharge;

    public SimulatedBand(string id, SimulatedBirth birth, int seed, double initialCycles, SimulatedFault? fault = null)
        : base(id, birth, seed, fault)
    {
        _ratedMah = birth.RatedCapacityMah ?? 300;
        _cyclesTo80 = Gaussian(545, 30);
        _cycles = initialCycles;
        _skinC = Gaussian(32, 1.5);
        _hrDecayDbPerDay = fault?.Mode == FaultMode.HrSensorDegradation ? 0.08 : 0.004 * Random.NextDouble();
    }

    private readonly double _skinC;
    private readonly double _hrDecayDbPerDay;
    private double _hrLossDb;

    /// <summary>Heat speeds fade: the rate roughly doubles per +10 °C (DOMAIN.md, assumed), relative to the
    /// 32 °C a band typically runs at on the wrist, where the CALCE cycle life is taken to hold.</summary>
    private double HeatFactor => Math.Pow(2, (_skinC - 32) / 10);

    // Early fade: from its onset the cell loses capacity 2.5 times as fast per cycle. A cell this far gone has
    // failed; the clamp keeps the gauge in a physical range.
    public override double TrueWearPct => Math.Max(40, 100 - (20 * HeatFactor * (_cycles + (2.5 - 1) * _fastCycles) / _cyclesTo80));

    private double _fastCycles;

    /// <summary>Ground truth: charge cycles until capacity falls below 80%, at the cell's current fade rate.</summary>
    public double TrueRemainingCycles
    {
        get
        {
            var perCycle = 20 * HeatFactor / _cyclesTo80 * (Faulty(FaultMode.EarlyBatteryFade, Now) ? 2.5 : 1);
            return Math.Max(0, (TrueWearPct - 80) / perCycle);
        }
    }

    /// <summary>Equivalent full cycles so far.</summary>
    public double Cycles => _cycles;
    private double _humidityOffset;

    public override void Advance(DateTimeOffset until, List<SimulatedReading> readings)
    {
        if (_nextSample == default)
        {
            _nextSample = Now + SampleInterval;
            _nextCharge = Now + TimeSpan.FromHours(20 + Random.Next(8));
        }

        while (_nextSample <= until)
        {
            if (_nextCharge <= _nextSample)
            {
                var cycle = (100 - _chargePct) / 100;
                _cycles += cycle;
                if (Faulty(FaultMode.EarlyBatteryFade, _nextCharge))
                {
                    _fastCycles += cycle;
                }

                _chargePct = 100;
                readings.Add(ChargeSummary(_nextCharge));
                _nextCharge += TimeSpan.FromHours(20 + Random.Next(8));
            }

            _chargePct = Math.Max(3, _chargePct - Gaussian(0.85, 0.2));
            // The optical window scratches and contact worsens: SNR drifts down, fast for a faulty sensor.
            _hrLossDb += _hrDecayDbPerDay * SampleInterval.TotalDays * (Faulty(FaultMode.HrSensorDegradation, _nextSample) || Fault?.Mode != FaultMode.HrSensorDegradation ? 1 : 0);
            if (Faulty(FaultMode.WaterIngress, _nextSample))
            {
                // Water behind a failed seal: humidity climbs over a few samples and stays high.
                _humidityOffset = Math.Min(40, _humidityOffset + Gaussian(14, 3));
            }

            readings.Add(Sample(_nextSample));
            _nextSample += SampleInterval;
        }

        Now = until;
    }

    private SimulatedReading Sample(DateTimeOffset at) => new(at.ToUnixTimeMilliseconds(),
    [
        new("battery_pct", Math.Round(_chargePct, 1)),
        new("battery_mv", Math.Round(3300 + (9 * _chargePct) + Gaussian(0, 10))),
        new("temp_c", Math.Round(Gaussian(_skinC, 1), 1)),
        new("humidity_pct", Math.Round(Math.Clamp(Gaussian(38 + _humidityOffset, 3), 0, 100), 1)),
        new("hr_snr_db", Math.Round(Gaussian(24 - _hrLossDb, 2), 1)),
    ]);

    private SimulatedReading ChargeSummary(DateTimeOffset at) => new(at.ToUnixTimeMilliseconds(),
    [
        new("capacity_mah", Math.Round(_ratedMah * TrueWearPct / 100 * Gaussian(1, 0.006), 1)),
        new("charge_cycles", Math.Floor(_cycles)),
        new("fault_code", 0),
    ]);
}
