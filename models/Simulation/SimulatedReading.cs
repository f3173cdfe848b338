namespace Telemetry.Models.Simulation;

/// <summary>One reading as a device would send it: a device timestamp and its metrics.</summary>
public sealed record SimulatedReading(long TimestampMs, IReadOnlyList<KeyValuePair<string, double>> Metrics);
