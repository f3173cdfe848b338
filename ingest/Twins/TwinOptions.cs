namespace Telemetry.Ingest.Twins;

/// <summary>Where device twins (grain state) are kept.</summary>
public enum TwinStore
{
    /// <summary>A SQLite database under the data directory (default; survives restarts, needs nothing installed).</summary>
    Sqlite,

    /// <summary>Redis, through Microsoft.Orleans.Persistence.Redis (<c>Twins:Redis</c> is the connection string).</summary>
    Redis,

    /// <summary>Memory only: lost on restart. For tests and benchmarks.</summary>
    Memory,
}

/// <summary>Twin persistence. Section <c>Twins</c>.</summary>
public sealed class TwinOptions
{
    public const string SectionName = "Twins";

    /// <summary>Where twins are kept. Default <see cref="TwinStore.Sqlite"/>.</summary>
    public TwinStore Store { get; set; } = TwinStore.Sqlite;

    /// <summary>StackExchange.Redis connection string for <see cref="TwinStore.Redis"/>, such as <c>127.0.0.1:6379</c>.</summary>
    public string Redis { get; set; } = string.Empty;

    /// <summary>
    /// Timeout of each Redis connect attempt and each command. Short enough that a dead Redis fails a grain call
    /// well within <c>Orleans:ResponseTimeout</c>, so the pipeline holds and retries its messages instead of
    /// waiting. Default 5 s.
    /// </summary>
    public TimeSpan RedisTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a device twin stays in memory without a message before Orleans deactivates it (its state is in
    /// the store already: the next message reads it back). Orleans scans once a minute, so a twin goes between
    /// this and a minute later. Default 15 minutes, Orleans' own default: a device that reports every few minutes
    /// keeps its twin resident, one that went quiet gives the memory back.
    /// </summary>
    public TimeSpan CollectionAge { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Most resident twins when <see cref="MaxResidentTwins"/> is left to size itself.</summary>
    public const int AutoMaxResidentTwins = 100_000;

    /// <summary>Fewest resident twins when <see cref="MaxResidentTwins"/> sizes itself, however small the host.</summary>
    public const int AutoMinResidentTwins = 1_000;

    /// <summary>Live heap a resident twin costs with Orleans' activation and the pipeline's note of it (docs/performance.md).</summary>
    public const int BytesPerResidentTwin = 3_300;

    /// <summary>Share of the memory the GC may use that a self-sized cap gives resident twins: one part in this many.</summary>
    public const int AutoHeapShareDivisor = 6;

    /// <summary>
    /// Most device twins resident at once. Past it, the least recently called 10% are deactivated (and read back
    /// from the store on their next message), so memory stays bounded however many devices come back at once. A
    /// resident twin costs about 3.3 KB of live heap with what Orleans and the pipeline keep for it
    /// (docs/performance.md). Default 0: sized from the memory the GC may use (three quarters of a container's limit, or
    /// <c>DOTNET_GCHeapHardLimit</c>, otherwise the machine's): a sixth of it at 3.3 KB a twin, between 1,000 and
    /// 100,000. A 512 MiB container gets about 20,000; a container of about 2.5 GiB or more (or a machine of 2 GiB without one) gets 100,000.
    /// </summary>
    public int MaxResidentTwins { get; set; }

    /// <summary>The cap in force: <see cref="MaxResidentTwins"/> when set, otherwise sized from
    /// <paramref name="availableBytes"/>, the memory the GC may use (0 or less: not known, the largest cap).</summary>
    public int ResolveMaxResidentTwins(long availableBytes) => MaxResidentTwins > 0
        ? MaxResidentTwins
        : availableBytes <= 0
            ? AutoMaxResidentTwins
            : (int)Math.Clamp(availableBytes / AutoHeapShareDivisor / BytesPerResidentTwin, AutoMinResidentTwins, AutoMaxResidentTwins);

    /// <summary>
    /// Share of the memory available to the process (percent) at which Orleans sheds activations, least recently
    /// used first, down to 10 points below (Orleans' <c>GrainCollectionOptions.EnableActivationSheddingOnMemoryPressure</c>).
    /// "Available" is what the GC sees: the container's limit or <c>DOTNET_GCHeapHardLimit</c> when set, otherwise
    /// the machine's memory; so this is the backstop in a sized container, and <see cref="MaxResidentTwins"/> the
    /// bound that does not depend on the host. Default 80, Orleans' own limit; 0 turns it off.
    /// </summary>
    public int ShedAtMemoryPercent { get; set; } = 80;
}
