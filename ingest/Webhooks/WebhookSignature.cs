using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Telemetry.Ingest.Webhooks;

/// <summary>
/// How a webhook request is signed (docs/alerts.md): <c>X-Telemetry-Timestamp</c> is the Unix time in seconds
/// when the request was sent, and <c>X-Telemetry-Signature</c> is <c>sha256=</c> and the lowercase hex
/// HMAC-SHA256, keyed with the webhook's secret (UTF-8), of the timestamp's ASCII digits, a <c>.</c>, and the exact
/// body bytes. The timestamp is inside the signed material so a receiver can refuse a replay of an old request
/// (we suggest a 5-minute tolerance) and the event id (<c>X-Telemetry-Event-Id</c>, also in the body) lets it drop
/// a repeat.
/// </summary>
public static class WebhookSignature
{
    public const string SignatureHeader = "X-Telemetry-Signature";
    public const string TimestampHeader = "X-Telemetry-Timestamp";
    public const string EventIdHeader = "X-Telemetry-Event-Id";

    /// <summary>The header value for <paramref name="body"/> sent at <paramref name="unixSeconds"/>.</summary>
    public static string Sign(string secret, long unixSeconds, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.ASCII.GetBytes(unixSeconds.ToString(CultureInfo.InvariantCulture) + ".");
        var material = new byte[prefix.Length + body.Length];
        prefix.CopyTo(material, 0);
        body.CopyTo(material.AsSpan(prefix.Length));
        return "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), material));
    }

    /// <summary>What a receiver does: recompute and compare in constant time.</summary>
    public static bool Verify(string secret, string timestamp, ReadOnlySpan<byte> body, string signature) =>
        long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
        && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Sign(secret, seconds, body)), Encoding.ASCII.GetBytes(signature));
}
