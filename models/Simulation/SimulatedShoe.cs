using Telemetry.Models.Wear;

namespace Telemetry.Models.Simulation;

/// <summary>
/// A running-shoe pod. Each run becomes one reading. True cushioning follows <see cref="CushioningCurve"/>,
/// with the wear rate scaled by the wearer's mass, pace, surface and temperature (DOMAIN.md, assumed ±20% each),
/// and the heel outsole wears at a shoe-specific rate. The
/// measured impact rises only slowly with wear and carries sensor noise, as Wang et al. (2010) found.
/// </summary>
public sealed class SimulatedShoe : SimulatedDevice
{
    private readonly double _weeklyKm;
    private readonly double _runsPerWeek;
    private readonly double _paceMinPerKm;
    private readonly double _surfaceFactor;
    private readonly double _baseImpactG;
    private readonly double _collapseFactor;
    private double _effectiveKm;
    private double _batteryPct = 100;
    private DateTimeOffset _nextRun;

    public SimulatedShoe(string id, SimulatedBirth birth, int seed, double weeklyKm, SimulatedFault? fault = null)
        : base(id, birth, seed, fault)
    {
        _weeklyKm = weeklyKm;
        _runsPerWeek = 3 + Random.Next(4);
        _paceMinPerKm = 4.5 + (Random.NextDouble() * 2);
        _surfaceFactor = 0.9 + (Random.NextDouble() * 0.3);
        _baseImpactG = Gaussian(10, 1.2);
        _collapseFactor = fault?.Mode == FaultMode.PrematureCollapse ? 2.5 : 1;
        _climateC = 4 + (Random.NextDouble() * 26);
        _outsoleStartMm = Math.Clamp(Gaussian(5.5, 0.6), 4.3, 6.9);
        _outsoleMmPer100Km = 0.3 + (Random.NextDouble() * 0.7);
    }

    private readonly double _climateC;
    private readonly double _outsoleStartMm;
    private readonly double _outsoleMmPer100Km;

    /// <summary>EVA stiffens in the cold (DOMAIN.md, assumed ±20% across the realistic range): colder runs
    /// compress the midsole faster, warmer ones slower.</summary>
    private static double TemperatureFactor(double midsoleC) => 1 + (0.2 * Math.Clamp((17 - midsoleC) / 13, -1, 1));

    /// <summary>Ground truth: heel outsole rubber left (DOMAIN.md: about 5.5 mm new, 0.3–1.0 mm per 100 km, assumed).</summary>
    public double TrueOutsoleMm => Math.Max(0, _outsoleStartMm - (_outsoleMmPer100Km * DistanceKm / 100));

    public double DistanceKm { get; private set; }

    /// <summary>Ground truth: real kilometres until cushioning falls below 60%, at this shoe's own wear rate.</summary>
    public double TrueRemainingKm
    {
        get
        {
            var kg = Birth.WearerKg ?? RuleWearModel.ReferenceMassKg;
            var massFactor = 1 + (0.2 * Math.Clamp((kg - RuleWearModel.ReferenceMassKg) / 40, -1, 1));
            var paceFactor = 1 + (0.2 * Math.Clamp((5.5 - _paceMinPerKm) / 1.0, -1, 1));
            var rate = massFactor * paceFactor * _surfaceFactor * _collapseFactor * TemperatureFactor(_climateC);
            return Math.Max(0, (CushioningCurve.KmAt(CushioningCurve.ReplaceNowPct) - _effectiveKm) / rate);
        }
    }

    public override double TrueWearPct => CushioningCurve.PercentAt(_effectiveKm);

    public override void Advance(DateTimeOffset until, List<SimulatedReading> readings)
    {
        if (_nextRun == default)
        {
            _nextRun = Now + NextGap();
        }

        while (_nextRun <= until)
        {
            readings.Add(Run(_nextRun));
            _nextRun += NextGap();
        }

        Now = until;
    }

    private TimeSpan NextGap() => TimeSpan.FromDays(7 / _runsPerWeek * (0.7 + (Random.NextDouble() * 0.6)));

    private SimulatedReading Run(DateTimeOffset at)
    {
        // One reading per run; the catalogue caps distance_m at 50 km, and longer outings are rare enough to cap.
        var km = Math.Clamp(Gaussian(_weeklyKm / _runsPerWeek, _weeklyKm / _runsPerWeek * 0.25), 1, 45);
        var pace = _paceMinPerKm * Gaussian(1, 0.04);
        var kg = Birth.WearerKg ?? RuleWearModel.ReferenceMassKg;
        var massFactor = 1 + (0.2 * Math.Clamp((kg - RuleWearModel.ReferenceMassKg) / 40, -1, 1));
        var paceFactor = 1 + (0.2 * Math.Clamp((5.5 - pace) / 1.0, -1, 1));
        var midsoleC = Gaussian(_climateC, 3);
        _effectiveKm += km * massFactor * paceFactor * _surfaceFactor * _collapseFactor * TemperatureFactor(midsoleC);
        DistanceKm += km;

        var wornFraction = (100 - TrueWearPct) / 100;
        // Delamination: a loose sole strikes harder and stays on the ground longer (a step, DOMAIN.md).
        var delaminated = Faulty(FaultMode.Delamination, at);
        // Magnitudes assumed (DOMAIN.md gives none): +25% impact, +12% ground contact.
        var impactStep = delaminated ? 1.25 : 1;
        var contactStep = delaminated ? 1.12 : 1;
        var durationS = km * pace * 60;
        var cadence = Math.Clamp(Gaussian(178 - ((pace - 5) * 6), 3), 140, 200);
        _batteryPct = Math.Max(5, _batteryPct - (durationS / 3600 * 1.5));
        if (_batteryPct < 20)
        {
            _batteryPct = 100;
        }

        return new SimulatedReading(at.ToUnixTimeMilliseconds(),
        [
            new("distance_m", Math.Round(km * 1000, 1)),
            new("duration_s", Math.Round(durationS)),
            new("steps", Math.Round(durationS / 60 * cadence)),
            // A worn midsole passes more of the strike through: +13% at full published wear (≈ +5% at 500 km).
            new("impact_g", Math.Round(Math.Clamp(Gaussian(_baseImpactG * impactStep * (1 + (0.13 * wornFraction / 0.4)), 0.5), 2, 39), 2)),
            new("contact_ms", Math.Round(Gaussian((200 + ((pace - 4) * 25)) * contactStep, 6), 1)),
            new("cadence_spm", Math.Round(cadence, 1)),
            new("pronation_deg", Math.Round(Gaussian(6, 1.5), 1)),
            new("midsole_temp_c", Math.Round(midsoleC, 1)),
            new("battery_pct", Math.Round(_batteryPct)),
        ]);
    }
}
