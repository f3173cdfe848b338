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

    public TwinStore Store { get; set; } = TwinStore.Sqlite;

    /// <summary>StackExchange.Redis connection string for <see cref="TwinStore.Redis"/>, such as <c>127.0.0.1:6379</c>.</summary>
    public string Redis { get; set; } = string.Empty;
}
