namespace Telemetry.Ingest.Uplink;

/// <summary>
/// Bytes that are not well-formed CBOR (RFC 8949 §3), or not in the subset the uplink format allows (nesting
/// depth, definite-length keys). <see cref="CborTelemetryDecoder"/> turns it into <c>malformed_json</c>; it never
/// leaves the decoder.
/// </summary>
internal sealed class MalformedCborException(string message) : Exception(message);
