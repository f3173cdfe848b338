namespace Telemetry.Models.Simulation;

/// <summary>What a simulated device announces in its birth message.</summary>
public sealed record SimulatedBirth(
    DeviceKind Kind,
    string Model,
    string Batch,
    string Firmware,
    DateOnly Manufactured,
    double? WearerKg,
    double? RatedCapacityMah);
