namespace Telemetry.Ingest.Uplink;

/// <summary>Why the service rejected a message or a reading. Wire names are in <see cref="RejectReasons"/>.</summary>
internal enum RejectReason : byte
{
    None = 0,
    MalformedJson,
    UnsupportedVersion,
    MissingField,
    InvalidField,
    PayloadTooLarge,
    TooManyReadings,
    TooManyMetrics,
    InvalidMetricName,
    NotANumber,
    ValueOutOfRange,
    TimestampInFuture,
    TimestampTooOld,
    RateLimited,
}
