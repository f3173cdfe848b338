namespace Telemetry.Models.Simulation;

/// <summary>
/// A device whose true wear state is known at every step. <see cref="Advance"/> moves it forward in
/// simulated time and returns what its sensors would have reported on the way.
/// </summary>
public abstract class SimulatedDevice(string id, SimulatedBirth birth, int seed, SimulatedFault? fault = null)
{
    protected Random Random { get; } = new(seed);

    public string Id { get; } = id;

    public SimulatedBirth Birth { get; } = birth;

    /// <summary>The simulated time the device has reached.</summary>
    public DateTimeOffset Now { get; protected set; }

    /// <summary>Ground truth: the wear quantity the service should estimate (cushioning % or battery health %).</summary>
    public abstract double TrueWearPct { get; }

    /// <summary>The fault this device develops (ground truth), or null for a healthy device.</summary>
    public SimulatedFault? Fault { get; } = fault;

    /// <summary>Ground truth: when the fault begins, once the device has been started.</summary>
    public DateTimeOffset? FaultOnset { get; private set; }

    /// <summary>Starts the device at <paramref name="start"/> without emitting readings.</summary>
    public void Start(DateTimeOffset start)
    {
        Now = start;
        FaultOnset = Fault is { } f ? start + f.OnsetAfter : null;
    }

    /// <summary>Whether the fault has begun at <paramref name="at"/>.</summary>
    protected bool Faulty(FaultMode mode, DateTimeOffset at) => Fault?.Mode == mode && FaultOnset <= at;

    /// <summary>Advances to <paramref name="until"/>, appending the readings the device took on the way.</summary>
    public abstract void Advance(DateTimeOffset until, List<SimulatedReading> readings);

    /// <summary>A normal deviate (Box–Muller); the seeded <see cref="Random"/> keeps fleets reproducible.</summary>
    protected double Gaussian(double mean, double sd)
    {
        var u1 = 1.0 - Random.NextDouble();
        var u2 = Random.NextDouble();
        return mean + (sd * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }
}
