namespace Telemetry.IntegrationTests;

/// <summary>Debian's redis-server on a free loopback port, without persistence to disk.</summary>
public sealed class RedisServer : ServerProcess
{
    public RedisServer()
        : base("redis")
    {
    }

    public int Port { get; init; } = FreePort();

    /// <summary>Keep data across a stop and start (append-only file, synced on every write), as a production Redis
    /// does: an outage test restarts it and expects the twins it held.</summary>
    public bool Persistent { get; init; }

    protected override (string File, IReadOnlyList<string> Args) Command() => ("redis-server",
        ["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", Directory, "--save", "",
            .. Persistent ? (string[])["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]]);

    protected override Task<bool> IsReadyAsync() => RedisAnswersAsync(Port);
}
