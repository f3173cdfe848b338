namespace Telemetry.Ingest.Uplink;

/// <summary>How a telemetry payload is encoded (docs/uplink.md): JSON unless the device said CBOR.</summary>
internal enum PayloadEncoding : byte
{
    /// <summary>UTF-8 JSON, the default: no content type, <c>application/json</c>, or any type but CBOR.</summary>
    Json,

    /// <summary>CBOR: MQTT 5 content type <c>application/cbor</c>, or the topic <c>devices/{id}/telemetry/cbor</c>.</summary>
    Cbor,
}
