namespace Telemetry.EndToEndTests;

/// <summary>The service with a small simulated fleet that replays its month of history in four seconds.</summary>
public sealed class SimulationFixture : ServiceFixture
{
    public SimulationFixture()
        : base(["--simulate", "4", "--Simulation:CatchUp", "00:00:04", "--Simulation:Tick", "00:00:00.200", "--Simulation:ResendAfter", "00:00:02"])
    {
    }
}
