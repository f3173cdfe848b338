namespace Telemetry.Ingest.Simulation;

/// <summary>Where a run of the demo fleet starts (<see cref="SimulationCheckpoint.Plan"/>): the simulated time its
/// devices start at, the simulated time they are advanced to without sending (null for a fresh fleet), and its clock
/// from there.</summary>
internal readonly record struct SimulationPlan(DateTimeOffset DeviceStart, DateTimeOffset? ResumeFrom, SimulationClock Clock);
