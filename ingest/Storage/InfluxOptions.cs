namespace Telemetry.Ingest.Storage;

/// <summary>Which InfluxDB write API to use.</summary>
public enum InfluxApiVersion
{
    /// <summary><c>POST /write?db=&amp;rp=</c> with user and password (InfluxDB 1.x).</summary>
    V1 = 1,

    /// <summary><c>POST /api/v2/write?org=&amp;bucket=</c> with <c>Authorization: Token</c> (2.x, and 1.8's compatibility API).</summary>
    V2 = 2,
}

/// <summary>
/// The time-series store. Section <c>Influx</c>. Without <see cref="Url"/>, readings go to a line-protocol
/// file per day under <c>Storage:DataDirectory</c> instead, which <c>influx -import</c> can load later.
/// </summary>
public sealed class InfluxOptions
{
    public const string SectionName = "Influx";

    /// <summary>Base address, such as <c>http://127.0.0.1:8086</c>. Empty (default): write files instead.</summary>
    public string Url { get; set; } = string.Empty;

    public InfluxApiVersion ApiVersion { get; set; } = InfluxApiVersion.V1;

    /// <summary>v1 database. Default <c>telemetry</c>.</summary>
    public string Database { get; set; } = "telemetry";

    /// <summary>v1 retention policy; empty means the database's default.</summary>
    public string RetentionPolicy { get; set; } = string.Empty;

    /// <summary>v1 user (empty: no authentication).</summary>
    public string Username { get; set; } = string.Empty;

    public string Password { get; set; } = string.Empty;

    /// <summary>v2 bucket. Default <c>telemetry</c>.</summary>
    public string Bucket { get; set; } = "telemetry";

    /// <summary>v2 organisation.</summary>
    public string Org { get; set; } = string.Empty;

    /// <summary>v2 API token.</summary>
    public string Token { get; set; } = string.Empty;

    /// <summary>Create the v1 database if it does not exist: when the writer starts (not holding up start-up)
    /// and again whenever a write finds it missing (404). Default true.</summary>
    public bool CreateDatabase { get; set; } = true;

    /// <summary>Lines per write request, at most. Default 5000. (A line never waits for a timer: what arrives
    /// while a request is in flight goes out in the next one.)</summary>
    public int MaxBatchLines { get; set; } = 5000;

    /// <summary>Write requests in flight at once when more than one batch is waiting. InfluxDB takes writes on
    /// several cores, so two requests store more per second than one; with less than a batch waiting there is one
    /// request, as the group commit would make anyway. Default 2.</summary>
    public int Writers { get; set; } = 2;

    /// <summary>Timeout of every call to InfluxDB, each write request and <c>CREATE DATABASE</c> alike; it is the
    /// only timeout that applies (HttpClient's own is off). Default 10 s.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Attempts of a write before its batch goes to the spill file. Default 4.</summary>
    public int Attempts { get; set; } = 4;

    /// <summary>First retry delay; each retry doubles it, with jitter, up to <see cref="MaxRetryDelay"/>. Default 200 ms.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest pause between attempts, also while replaying the spill file. Default 5 s.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>Where the service keeps its files. Section <c>Storage</c>.</summary>
public sealed class StorageOptions
{
    public const string SectionName = "Storage";

    /// <summary>Spill file, dead letters, line-protocol files and the twin database live here. Default <c>data</c>
    /// (relative to the working directory).</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>Writes waiting for the store before the pipeline is slowed down. Default 256.</summary>
    public int QueueCapacity { get; set; } = 256;
}
