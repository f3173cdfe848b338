namespace Telemetry.Grains.Ingest;

/// <summary>
/// How long and how much a device twin remembers of the messages it handled, for dedupe. Section <c>Uplink</c>
/// (the same section as the uplink rules: these are part of the device contract).
/// </summary>
public sealed class DedupeOptions
{
    public const string SectionName = "Uplink";

    /// <summary>A boot is forgotten once no message of it has arrived for this long. Default 30 days, the
    /// oldest reading the service accepts (<c>Uplink:MaxAge</c>): a device cannot usefully resend anything older.</summary>
    public TimeSpan BootMemory { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Hard cap on boots remembered per device, whatever their age, to bound the twin. Default 256
    /// (a device rebooting eight times a day for 30 days). Beyond it the boot seen longest ago is forgotten and
    /// counted (<c>boots_evicted</c> on the twin).</summary>
    public int MaxBoots { get; set; } = 256;

    /// <summary>Separate runs of seqs held beyond gaps per boot. Default 1024. A device that far ahead of its
    /// gaps gets further out-of-order messages refused (<c>rate_limited</c>, not acked) until it fills them.</summary>
    public int MaxGapRanges { get; set; } = SeqTracker.DefaultMaxRanges;

    /// <summary>Missing ranges an ack names (<c>missing</c>), lowest first. Default 16.</summary>
    public int MissingInAck { get; set; } = 16;
}
