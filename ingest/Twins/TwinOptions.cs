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
}
