namespace Telemetry.Ingest.Mqtt;

/// <summary>A message the service publishes at QoS 1.</summary>
internal readonly record struct OutboundMessage(string Topic, byte[] Payload, bool Retain = false);
