namespace Telemetry.Ingest.Uplink;

/// <summary>The reason codes of uplink v1 as they appear on <c>devices/{id}/errors</c> and in metrics.</summary>
internal static class RejectReasons
{
    /// <summary>Every reason except <see cref="RejectReason.None"/>, in enum order.</summary>
    public static readonly RejectReason[] All = [.. Enum.GetValues<RejectReason>().Where(r => r != RejectReason.None)];

    private static readonly string[] Names =
    [
        "none",
        "malformed_json",
        "unsupported_version",
        "missing_field",
        "invalid_field",
        "payload_too_large",
        "too_many_readings",
        "too_many_metrics",
        "invalid_metric_name",
        "not_a_number",
        "value_out_of_range",
        "timestamp_in_future",
        "timestamp_too_old",
        "rate_limited",
    ];

    public static string WireName(this RejectReason reason) => Names[(int)reason];
}
