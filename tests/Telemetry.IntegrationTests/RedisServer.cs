namespace Telemetry.IntegrationTests;

/// <summary>Debian's redis-server on a free loopback port, without persistence to disk.</summary>
public sealed class RedisServer : ServerProcess
{
    public RedisServer()
        : base("redis")
    {
    }

    public int Port { get; } = FreePort();

    protected override (string File, IReadOnlyList<string> Args) Command() => ("redis-server",
        ["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", Directory, "--save", "", "--appendonly", "no"]);

    protected override Task<bool> IsReadyAsync() => AcceptsTcpAsync(Port);
}
