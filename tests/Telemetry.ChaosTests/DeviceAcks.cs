namespace Telemetry.ChaosTests;

/// <param name="AckedSeq">Highest contiguous seq the service acked (−1: none).</param>
/// <param name="ReadingsSent">Readings in messages published at least once: the most a twin may count.</param>
public sealed record DeviceAcks(string Id, long AckedSeq, long ReadingsSent, long ReadingsAcked);
