using Telemetry.Ingest.Uplink;

namespace Telemetry.Ingest.Pipeline;

/// <summary>A rejection to report on <c>devices/{id}/errors</c>. Boot and seq are absent when unknown.</summary>
internal readonly record struct ErrorReport(
    string DeviceId,
    string? Boot,
    uint? Seq,
    int? Reading,
    RejectReason Reason,
    string Detail);
