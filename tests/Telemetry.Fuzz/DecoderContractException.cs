namespace Telemetry.Fuzz;

/// <summary>A decoder returned something the uplink contract forbids (as opposed to throwing on its own).</summary>
public sealed class DecoderContractException(string message) : Exception(message);
