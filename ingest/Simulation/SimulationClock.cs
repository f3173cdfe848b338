namespace Telemetry.Ingest.Simulation;

/// <summary>
/// Maps real time to simulated time: the simulation starts <c>backfill</c> in the past and runs fast until
/// it reaches real time after <c>catchUp</c>, then runs at real speed. Device timestamps therefore never lie
/// in the future and never fall outside the accepted window.
/// </summary>
internal sealed class SimulationClock(DateTimeOffset realStart, TimeSpan backfill, TimeSpan catchUp)
{
    public DateTimeOffset SimulatedStart { get; } = realStart - backfill;

    public double Speed { get; } = (backfill + catchUp) / catchUp;

    public DateTimeOffset Now(DateTimeOffset real)
    {
        var elapsed = real - realStart;
        return elapsed >= catchUp ? real : SimulatedStart + (elapsed * Speed);
    }
}
