using System.Security.Cryptography;
using System.Text;

namespace Telemetry.Ingest.Webhooks;

/// <summary>
/// Customer-service systems that receive alert events over HTTP: <c>Alerts:Webhooks:N:*</c>. Section <c>Alerts</c>,
/// beside the SLA settings. Each webhook gets every alert event whose code matches, in order, signed, retried
/// until delivered or dead-lettered. See docs/alerts.md.
/// </summary>
public sealed class WebhooksOptions
{
    public const string SectionName = "Alerts";

    /// <summary>The webhooks, by index (<c>Alerts:Webhooks:0:Url</c>, …). None by default. The index only orders them
    /// and keys the stats; a webhook's queue is keyed by its <see cref="WebhookOptions.Identity"/>.</summary>
    public List<WebhookOptions> Webhooks { get; set; } = [];
}

/// <summary>One webhook (<c>Alerts:Webhooks:N</c>).</summary>
public sealed class WebhookOptions
{
    /// <summary>
    /// Stable name of this webhook, which keys its queued events: 1–64 of <c>a-z 0-9 . _ -</c>, starting with a letter
    /// or digit, unique. Optional; set it to keep the queue when the URL changes. Default: none, and the identity is
    /// derived from the URL (<see cref="Identity"/>).
    /// </summary>
    public string? Name { get; set; }

    /// <summary>Absolute http or https URL that receives a POST per alert event. Required.</summary>
    public string Url { get; set; } = string.Empty;

    /// <summary>Alert codes to send, exact or globs (<c>band.*</c>, <c>shoe.cushioning.*</c>). Absent or empty: every code.</summary>
    public string[]? Codes { get; set; }

    /// <summary>HMAC-SHA256 key for the <c>X-Telemetry-Signature</c> header. Required, at least 16 characters.</summary>
    public string Secret { get; set; } = string.Empty;

    /// <summary>An event still undelivered this long after it was queued is dead-lettered. Default 24 hours.</summary>
    public TimeSpan GiveUpAfter { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Time one request may take before it counts as failed (and is retried). Default 10 seconds.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Wait after the first failed attempt; it doubles per failure up to <see cref="RetryCap"/>, with
    /// jitter (a random 50–100% of it). Default 1 second.</summary>
    public TimeSpan RetryFirst { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait between attempts. Default 5 minutes.</summary>
    public TimeSpan RetryCap { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// What the durable queue keys this webhook's events by: <see cref="Name"/> when set, else <c>url:</c> and the first
    /// 16 lowercase hex digits of the SHA-256 of the normalised absolute URL. Never the index, so removing or reordering
    /// webhooks never hands one webhook's pending events to another; a hash, not the URL itself, so a token in the URL
    /// is not copied into the queue file or the logs.
    /// </summary>
    public string Identity()
    {
        if (!string.IsNullOrEmpty(Name))
        {
            return Name;
        }

        var url = Uri.TryCreate(Url, UriKind.Absolute, out var parsed) ? parsed.AbsoluteUri : Url;
        return "url:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(url)))[..16];
    }

    /// <summary>Whether this webhook takes events of <paramref name="code"/>.</summary>
    public bool Wants(string code) => Codes is not { Length: > 0 } codes || codes.Any(pattern => Uplink.Glob.IsMatch(pattern, code));
}
