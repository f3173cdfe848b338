namespace Telemetry.Ingest.Uplink;

/// <summary>The eight major types of a CBOR data item (RFC 8949 §3.1): the top three bits of its first byte.</summary>
internal enum CborMajorType : byte
{
    UnsignedInteger = 0,
    NegativeInteger = 1,
    ByteString = 2,
    TextString = 3,
    Array = 4,
    Map = 5,
    Tag = 6,
    Simple = 7,
}
