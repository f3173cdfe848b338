namespace Telemetry.Ingest.Uplink;

/// <summary>The device-to-service topics of uplink v1.</summary>
internal enum UplinkTopic : byte
{
    Birth,
    Telemetry,
}
